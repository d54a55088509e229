"""
### medley_maintenance: daily upkeep of the lakehouse, Druid and the quality results

Each task runs one step of `medley/maintenance.py` as `python -m medley.maintenance <step>` with
the runner `orchestration.runner` names (`medley/orchestration.py`: the pipeline environment
here, or a pod in the cluster):

- **optimize → vacuum**: Delta OPTIMIZE (compaction of the small files hourly runs leave) and
  then VACUUM of every table of the contracts, keeping what any version of the last
  `maintenance.vacuum_retention_hours` (168) needs.
- **druid_compaction**: the coordinator's auto-compaction config for every served datasource,
  leaving the latest `maintenance.druid_skip_offset` (P1D) to the hourly runs.
- **expire_quality_results**: GE validation results older than `maintenance.quality_results_days`
  (30) before the run's data interval end are deleted; the Data Docs site is kept.

Daily, no catch-up (a missed day's upkeep is done by the next one), one run and one task at a
time. OPTIMIZE rewrites files an hourly run may be replacing at the same moment; Delta then fails
one of the two commits and its task is retried with back-off. `start_date` follows
`$MEDLEY_HOURLY_START_DATE` like medley_hourly.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import dag, task

from medley import orchestration


@dag(
    dag_id="medley_maintenance",
    schedule="@daily",
    start_date=orchestration.start_date(),
    catchup=False,
    max_active_runs=1,
    max_active_tasks=1,
    tags=["medley", "maintenance"],
    doc_md=__doc__,
    default_args={
        "owner": "medley",
        "retries": 3,
        "retry_delay": timedelta(minutes=5),
        "retry_exponential_backoff": 2.0,
        "max_retry_delay": timedelta(hours=1),
        "execution_timeout": timedelta(hours=3),
        "on_failure_callback": orchestration.on_failure,
    },
)
def medley_maintenance():
    @task(doc_md="Delta OPTIMIZE (bin-packing compaction) of every table of the contracts; logs the "
                 "file count before and after per table.")
    def optimize():
        orchestration.run_maintenance("optimize")

    @task(doc_md="Delta VACUUM of every table: deletes files no version younger than "
                 "`maintenance.vacuum_retention_hours` needs. Runs after optimize, whose replaced "
                 "files it removes once they are that old.")
    def vacuum():
        orchestration.run_maintenance("vacuum")

    @task(doc_md="Sets Druid's auto-compaction config (POST /druid/coordinator/v1/config/compaction) "
                 "for every datasource with a spec in `druid_specs/`.")
    def druid_compaction():
        orchestration.run_maintenance("druid-compaction")

    @task(doc_md="Deletes GE validation results under `<quality_prefix>/runs/` older than "
                 "`maintenance.quality_results_days` before this run's data interval end.")
    def expire_quality_results(data_interval_end=None):
        orchestration.run_maintenance("expire-results", ["--as-of", data_interval_end.isoformat()])

    optimize() >> vacuum()
    druid_compaction()
    expire_quality_results()


medley_maintenance()
