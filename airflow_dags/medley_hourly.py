"""
### medley_hourly: landing → bronze → silver → gold → reconcile → Druid → Superset, every hour

Each task runs one hop of `medley/hops.py`, the same hops `medley run` runs, as
`python -m medley.jobs <hop>` with the runner `orchestration.runner` names
(`medley/orchestration.py`): `local`, the pipeline environment on this machine, or `kubernetes`,
pods in the cluster with spark-submit for the Spark hops (`medley/kube_runner.py`; the chart sets
it). Every hop has its Great Expectations gate, and hands its work to the next hop only after the
gate passed.

**What a logical hour processes.** The hops work from the hand-over state in the object store
(`medley/state.py`), not from the run's data interval: a run processes everything that has landed
and not been processed yet, which includes its own hour. So a late file is picked up by the next
run, a skipped hour loses nothing, and rerunning an hour that is done changes nothing (every hop
replaces its interval).

**Schedule.** Hourly data intervals (`CronDataIntervalTimetable`: the run of hour H covers
[H, H+1h) and starts when that hour is over), `catchup=True`, one run at a time (`max_active_runs=1`) and one task at a
time (`max_active_tasks=1`), so one local Spark runs at once. `start_date` is
`$MEDLEY_HOURLY_START_DATE` (ISO 8601, UTC unless given) or, unset, the start of the current UTC
hour: unpausing then creates no backlog of runs, and no run before the current hour ends. A
platform team pins it.

**Backfill** over logical hours: `airflow backfill create --dag-id medley_hourly --from-date
2026-12-01T00:00:00+00:00 --to-date 2026-12-01T05:00:00+00:00`. Because of the hand-over state,
the first of those runs does any work still queued and the others find nothing new. To rebuild
data that is already processed, queue its dates: `python -m medley.jobs silver --dates <landing
date>` (docs/airflow.md).

**Failures.** A failed gate (exit code 6) or reconciliation (7) fails its task at once, without
retry, with the job's error line (hop, table, check); the later tasks do not run and the work
stays queued for the next run after the fix. Other failures are retried with exponential
back-off. Every failure is posted to `alerts.webhook_url` when one is set.

**Assets.** The gold task's outlets are the gold tables (`s3://<bucket>/lakehouse/gold/<table>`),
so downstream DAGs can be scheduled on them.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import Asset, CronDataIntervalTimetable, dag, task

from medley import orchestration

GOLD_ASSETS = [Asset(name=f"medley.gold.{table}", uri=uri)
               for table, uri in orchestration.gold_asset_uris().items()]


@dag(
    dag_id="medley_hourly",
    # the run of hour H covers [H, H+1h) and starts at H+1h; unpausing mid-hour starts no run
    schedule=CronDataIntervalTimetable("@hourly", timezone="UTC"),
    start_date=orchestration.start_date(),
    catchup=True,
    max_active_runs=1,
    max_active_tasks=1,
    tags=["medley", "pipeline"],
    doc_md=__doc__,
    default_args={
        "owner": "medley",
        "retries": 2,
        "retry_delay": timedelta(minutes=2),
        "retry_exponential_backoff": 2.0,
        "max_retry_delay": timedelta(minutes=20),
        "execution_timeout": timedelta(hours=2),
        "on_failure_callback": orchestration.on_failure,
    },
)
def medley_hourly():
    @task(doc_md="New landing objects → `bronze.events` in one Delta commit, verbatim with lineage "
                 "columns; gated (`bronze/events`). Objects already ingested are skipped.")
    def bronze(data_interval_start=None, data_interval_end=None):
        orchestration.run_hop("bronze", (data_interval_start, data_interval_end))

    @task(doc_md="The landing dates ingested since the silver watermark → the four silver streams, "
                 "`silver.quarantine` and `silver.duplicate_events`; gated (the quarantine rate is "
                 "capped by `quality.quarantine_max_rate`); their event dates are queued for gold.")
    def silver(data_interval_start=None, data_interval_end=None):
        orchestration.run_hop("silver", (data_interval_start, data_interval_end))

    @task(outlets=GOLD_ASSETS,
          doc_md="The event dates queued for gold → the star schema (facts, dimensions, aggregates); "
                 "gated with referential integrity; handed to Druid. Emits an asset event per gold table.")
    def gold(data_interval_start=None, data_interval_end=None):
        orchestration.run_hop("gold", (data_interval_start, data_interval_end))

    @task(doc_md="Per stream: bronze lines = silver + quarantined + duplicates, and gold facts = silver. "
                 "Writes nothing; a mismatch fails the run (exit code 7) without retry.")
    def reconcile(data_interval_start=None, data_interval_end=None):
        orchestration.run_hop("reconcile", (data_interval_start, data_interval_end))

    @task(doc_md="The event dates queued for Druid: each gold table with a spec in `druid_specs/` "
                 "is ingested for them, replacing those intervals (never appending).")
    def druid(data_interval_start=None, data_interval_end=None):
        orchestration.run_hop("druid", (data_interval_start, data_interval_end))

    @task(doc_md="Superset's databases, datasets and charts as code (`superset/`), provisioned "
                 "idempotently, so the dashboards read the datasources Druid now serves.")
    def superset(data_interval_start=None, data_interval_end=None):
        orchestration.run_hop("superset", (data_interval_start, data_interval_end))

    bronze() >> silver() >> gold() >> reconcile() >> druid() >> superset()


medley_hourly()
