"""The hops of the pipeline: bronze, silver, gold, reconcile, druid, superset.

One set of hops for every runner: `medley run` (medley/pipeline.py only sequences them) and the
Kubernetes jobs (medley/jobs.py, one hop per pod) call the same functions, so each gives the same
guarantees. A hop:
- works on its interval, read from the hand-over state (medley/state.py): bronze on the landing
  objects not yet ingested, silver on the landing dates ingested since its watermark, gold and
  druid on the event dates queued for them;
- gates what it wrote with Great Expectations (GateFailed, exit code 6, names table and check);
- hands its dates to the next hop only after its gate passed, so a failure or a crash leaves the
  work queued and the next run redoes it (every hop replaces its interval: redoing is safe).
"""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from medley import state, storage
from medley.config import Config
from medley.console import say
from medley.contracts import all_contracts, contract
from medley.delta import exists, read
from medley.errors import MedleyError, ReconciliationFailed
from medley.quality import GateResult, data_docs, require_pass, validate
from medley.spark import out_of_disk, out_of_memory

# silver table -> its gold fact; interana lines become page views (and listens, auth, status changes)
FACT_OF = {"listen_events": "fact_listen", "page_view_events": "fact_page_view",
           "auth_events": "fact_auth", "status_change_events": "fact_status_change"}
CRASH_AT_ENV = "MEDLEY_CRASH_AT"


@dataclass
class RunReport:
    run_id: str
    steps: list[tuple[str, float, str]] = field(default_factory=list)
    gates: list[GateResult] = field(default_factory=list)
    reconciliation: list[dict] = field(default_factory=list)
    druid_rows: dict[str, int] = field(default_factory=dict)
    # step -> CPU seconds of this process and its local Spark JVM (bench/bench_pipeline.py): on a
    # loaded machine a less noisy measure than the wall time in `steps`
    cpu: dict[str, float] = field(default_factory=dict)


def cpu_seconds() -> float:
    """CPU seconds used so far by this process and by its Spark JVM, if it runs one locally."""
    from pyspark import SparkContext

    total = time.process_time()
    jvm = getattr(getattr(SparkContext._active_spark_context, "_gateway", None), "proc", None)
    if jvm is not None:
        try:
            fields = Path(f"/proc/{jvm.pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")   # utime + stime
        except (OSError, IndexError, ValueError):
            pass
    return total


class Step:
    """Times a step for the report, prints progress, and turns what people can fix into one line
    naming the fix: a Spark JVM killed by an OutOfMemoryError (exit code 10), no disk space for
    Spark's scratch files (8), an object store that stopped answering (4)."""

    def __init__(self, cfg: Config, report: RunReport, name: str):
        self.cfg, self.report, self.name, self.note = cfg, report, name, ""

    def __enter__(self):
        self.start, self.cpu = time.monotonic(), cpu_seconds()
        say(f"-> {self.name} ...")
        return self

    def __exit__(self, kind, err, _tb):
        seconds = time.monotonic() - self.start
        self.report.steps.append((self.name, seconds, "FAILED" if kind else self.note))
        self.report.cpu[self.name] = self.report.cpu.get(self.name, 0.0) + cpu_seconds() - self.cpu
        say(f"   {self.name}: {'FAILED' if kind else 'ok'} ({seconds:.1f}s) {self.note}")
        if isinstance(err, Exception) and not isinstance(err, MedleyError):
            clear = (out_of_memory(self.cfg, self.name, err) or out_of_disk(self.cfg, self.name, err)
                     or storage.unreachable(self.cfg, self.name))
            if clear:
                raise clear from err
        return False


def crash_point(cfg: Config, name: str) -> None:
    """Die here, as a lost machine would, when MEDLEY_CRASH_AT names this point: SIGKILL this
    process's Spark JVM (the pyspark gateway, a child process), then this process. The fault tests
    crash a run at an exact place (e.g. between two Delta commits of a hop) to prove a rerun is exact;
    the line printed first gives them the JVM's pid to check it is gone."""
    if cfg.env.get(CRASH_AT_ENV) != name:
        return
    from pyspark import SparkContext

    jvm = getattr(getattr(SparkContext._active_spark_context, "_gateway", None), "proc", None)
    say(f"crash point {name}: SIGKILL to the Spark JVM (pid {jvm.pid if jvm else 'none'}) and pid {os.getpid()}")
    if jvm is not None:
        jvm.kill()
        jvm.wait()
    os.kill(os.getpid(), signal.SIGKILL)


def table(spark: SparkSession, cfg: Config, name: str) -> DataFrame | None:
    location = storage.table_uri(cfg, name)
    return read(spark, location) if exists(spark, location) else None


def _gate(cfg: Config, report: RunReport, ref: str, df: DataFrame, extra: list[dict] | None = None,
          extra_columns: tuple[str, ...] = (), explain: Callable[[DataFrame], str] | None = None) -> None:
    """Validate df; on failure `explain(df)` (if given) is added to the error line."""
    result = validate(cfg, contract(ref), df, report.run_id, extra, extra_columns)
    if explain is not None and not result.success:
        result.explanation = explain(df)
    report.gates.append(result)
    require_pass(result)
    crash_point(cfg, f"gate:{ref}")


def _span(dates) -> str:
    dates = sorted(dates)
    return f"{dates[0]}..{dates[-1]}" if dates else "(none)"


# --- gates -------------------------------------------------------------------------------------

def gate_bronze(spark, cfg, report, bronze_run_id: str, recorded_damage: bool = False) -> None:
    rows = table(spark, cfg, "bronze.events")
    if rows is not None:
        _gate(cfg, report, "bronze/events", rows.where(F.col("ingest_run_id") == bronze_run_id))
    if recorded_damage:
        damaged = table(spark, cfg, "bronze.damaged_objects")
        _gate(cfg, report, "bronze/damaged_objects", damaged.where(F.col("ingest_run_id") == bronze_run_id))


def gate_silver(spark, cfg, report, landing_dates, event_dates) -> None:
    from medley.quarantine import gate_explanation

    bronze_lines = table(spark, cfg, "bronze.events").where(F.col("event_date").isin(landing_dates)).count()
    quarantine = table(spark, cfg, "silver.quarantine")
    if quarantine is not None:
        limit = int(cfg.get("quality.quarantine_max_rate") * bronze_lines)
        _gate(cfg, report, "silver/quarantine", quarantine.where(F.col("event_date").isin(landing_dates)),
              [{"type": "expect_table_row_count_to_be_between",
                "kwargs": {"min_value": 0, "max_value": limit},
                "meta": {"notes": f"at most quality.quarantine_max_rate of the {bronze_lines} lines "
                                  "of these landing dates: more points at a broken producer"}}],
              explain=gate_explanation)
    for c in all_contracts("silver"):
        df = table(spark, cfg, c.table)
        if df is not None and c.name != "quarantine":
            _gate(cfg, report, f"silver/{c.name}", df.where(F.col("event_date").isin(event_dates)))


def with_reference_flags(spark, cfg, c, df) -> tuple[DataFrame, list[dict], tuple[str, ...]]:
    """Append one `_resolves_<fk>` column per foreign key, null where the key has no member."""
    extra, flags = [], []
    for col in c.columns:
        if not col.references:
            continue
        dim_table, dim_col = col.references.split(".")
        flag = f"_resolves_{col.name}"
        keys = table(spark, cfg, f"gold.{dim_table}").select(F.col(dim_col).alias(flag)).distinct()
        df = df.join(keys, on=df[col.name] == keys[flag], how="left")
        flags.append(flag)
        extra.append({"type": "expect_column_values_to_not_be_null", "kwargs": {"column": flag},
                      "meta": {"notes": f"referential integrity: {c.name}.{col.name} -> {col.references}"}})
    return df.select(*c.column_names, *flags), extra, tuple(flags)


def gate_gold(spark, cfg, report, event_dates: list[str]) -> None:
    """Each gold table as written this run (the replaced event dates of facts and aggregates, the
    whole of a dimension), with referential integrity of every fact foreign key."""
    for c in all_contracts("gold"):
        df = table(spark, cfg, c.table)
        if df is None:
            continue
        if "event_date" in c.partition_by:
            df = df.where(F.col("event_date").isin(event_dates))
        df, extra, flags = with_reference_flags(spark, cfg, c, df)
        _gate(cfg, report, f"gold/{c.name}", df, extra, flags)


# --- the hops ----------------------------------------------------------------------------------

def bronze(spark: SparkSession, cfg: Config, report: RunReport) -> None:
    """New landing objects -> bronze.events (one commit), gated."""
    from spark.bronze import events as bronze_job

    with Step(cfg, report, "bronze") as t:
        result = bronze_job.run(spark, cfg)
        damaged = f" ({len(result.damaged)} damaged: bronze.damaged_objects)" if result.damaged else ""
        t.note = f"{len(result.new_objects)} new objects{damaged}, {sum(result.rows_by_stream.values())} lines"
    crash_point(cfg, "bronze:written")
    if result.new_objects:
        with Step(cfg, report, "bronze gate"), data_docs(cfg):
            gate_bronze(spark, cfg, report, result.run_id, bool(result.damaged))


def silver(spark: SparkSession, cfg: Config, report: RunReport, rebuild_landing_dates=()) -> None:
    """Landing dates ingested since the silver watermark (plus any asked for) -> silver, gated;
    then their event dates are queued for gold and the watermark moves."""
    from spark.silver import run as silver_job

    with Step(cfg, report, "silver") as t:
        bronze_rows = table(spark, cfg, "bronze.events")
        landing_dates, watermark = (silver_job.landing_dates_since(bronze_rows, state.load(cfg)["silver_watermark"])
                                    if bronze_rows is not None else (set(), None))
        result = silver_job.run(spark, cfg, landing_dates | {str(d) for d in rebuild_landing_dates},
                                lambda name: crash_point(cfg, f"silver:{name}"))
        t.note = f"landing dates {_span(result.landing_dates)}, event dates {_span(result.event_dates)}"
    if result.landing_dates:
        with Step(cfg, report, "silver gates"), data_docs(cfg):
            gate_silver(spark, cfg, report, result.landing_dates, result.event_dates)
        crash_point(cfg, "silver:gated")
        state.add_pending(cfg, "gold", result.event_dates)
        crash_point(cfg, "silver:queued")
        state.set_silver_watermark(cfg, watermark)


def gold(spark: SparkSession, cfg: Config, report: RunReport) -> None:
    """The event dates queued for gold -> the star schema, gated; then handed to druid."""
    from spark.gold import run as gold_job

    dates = state.pending(cfg, "gold")
    with Step(cfg, report, "gold") as t:
        t.note = f"event dates {_span(dates)}"
        if dates:
            gold_job.run(spark, cfg, set(dates), lambda name: crash_point(cfg, f"gold:{name}"))
    if dates:
        with Step(cfg, report, "gold gates"), data_docs(cfg):
            gate_gold(spark, cfg, report, dates)
        crash_point(cfg, "gold:gated")
        state.done(cfg, "gold", dates, hand_to="druid")


def reconciliation(spark, cfg) -> list[dict]:
    """Per stream over whole tables: bronze lines = silver rows + quarantined + duplicates, and
    gold fact rows = silver rows. Interana lines are counted as page views (their own table)."""
    def counts(name: str, by: str) -> dict[str, int]:
        df = table(spark, cfg, name)
        return {} if df is None else {r[0]: r[1] for r in df.groupBy(by).count().collect()}

    bronze_lines = counts("bronze.events", "stream")
    quarantined = counts("silver.quarantine", "stream")
    duplicates = counts("silver.duplicate_events", "stream")
    rows = []
    for silver_table, fact in FACT_OF.items():
        silver_rows = counts(f"silver.{silver_table}", "dialect")
        gold_rows = sum(counts(f"gold.{fact}", "event_date").values())
        streams = [silver_table] + (["interana_events"] if silver_table == "page_view_events" else [])
        dialects = ["viirya"] + (["interana"] if silver_table == "page_view_events" else [])
        own = sum(silver_rows.get(d, 0) for d in dialects)
        landed = sum(bronze_lines.get(s, 0) for s in streams)
        q = sum(quarantined.get(s, 0) for s in streams)
        d = sum(duplicates.get(s, 0) for s in streams)
        rows.append({"stream": "+".join(streams), "bronze": landed, "silver": own, "quarantined": q,
                     "duplicates": d, "silver_total": sum(silver_rows.values()), "gold": gold_rows,
                     "bronze_ok": landed == own + q + d, "gold_ok": gold_rows == sum(silver_rows.values())})
    return rows


def reconcile(spark: SparkSession, cfg: Config, report: RunReport) -> None:
    """Stop (exit code 7) when a hop lost or duplicated rows, and write nothing; once the counts
    reconcile, they (with freshness, quarantine and gate results) go to the health tables
    (medley/health.py)."""
    from medley import health

    with Step(cfg, report, "reconcile"):
        report.reconciliation = reconciliation(spark, cfg)
        broken = [r for r in report.reconciliation if not (r["bronze_ok"] and r["gold_ok"])]
        if broken:
            raise ReconciliationFailed(f"counts do not reconcile for {[r['stream'] for r in broken]}: {broken}",
                                       "a job lost or duplicated rows: keep the tables for inspection "
                                       "and report it")
    with Step(cfg, report, "health"):
        health.record(spark, cfg, report)


def druid(spark: SparkSession, cfg: Config, report: RunReport) -> None:
    """The event dates queued for druid: every datasource served from gold (medley/serving.py) is
    ingested for them from a serving export (the gold table's rows of those dates, joined to the
    dimensions it references), replacing those intervals in Druid (appendToExisting false), so
    reruns never duplicate rows. All tasks are submitted first, then waited for: Druid runs them
    side by side (druid.worker.capacity) while Spark exports the next table."""
    from medley import druid as druid_client, serving

    dates = state.pending(cfg, "druid")
    with Step(cfg, report, "druid") as t:
        t.note = f"event dates {_span(dates)}"
        if not dates:
            return
        dims: dict[str, DataFrame] = {}
        submitted = []
        for name, spec in serving.gold_specs().items():
            intervals = serving.intervals(spec, dates)
            objects = _serving_export(spark, cfg, name, spec, intervals, dims, report.run_id)
            if not objects:
                continue
            task = druid_client.ingest(cfg, druid_client.render_spec(cfg, spec, objects, intervals))
            crash_point(cfg, f"druid:submitted:{name}")
            submitted.append((name, task))
        t.note += f", {len(submitted)} datasources"
        failed = []
        for name, task in submitted:
            try:
                druid_client.wait_for_task(cfg, task, name)
            except druid_client.IngestionFailed as err:
                failed.append(err)      # wait for the others too: the hop ends with Druid quiet
                continue
            druid_client.wait_for_datasource(cfg, name, min_rows=1)
            report.druid_rows[name] = druid_client.sql(cfg, f'SELECT COUNT(*) AS n FROM "{name}"')[0]["n"]
            crash_point(cfg, f"druid:loaded:{name}")
        if failed:
            raise failed[0]
        _drop_serving_exports(cfg)
        crash_point(cfg, "druid:loaded")
        state.done(cfg, "druid", dates)
    from medley import health

    with Step(cfg, report, "health"):   # what Druid serves now, then the health tables into Druid
        health.record_druid(spark, cfg, report)


def _serving_prefix(cfg: Config) -> str:
    return f"{storage.lakehouse_prefix(cfg)}/serving"


def _serving_export(spark: SparkSession, cfg: Config, name: str, spec: dict, intervals: list[str],
                    dims: dict[str, DataFrame], run_id: str) -> list[str]:
    """Write the rows datasource `name` ingests for these intervals as Parquet under
    <lakehouse>/serving/<name>/<run id>/ (every column in the files, the partition column too);
    their s3:// URIs, none when the intervals have no rows."""
    from medley import serving

    s = serving.served(spec)
    source = table(spark, cfg, s.source.table)
    if source is None:
        return []
    for dim in s.dimensions:
        if dim not in dims:
            dims[dim] = table(spark, cfg, f"gold.{dim}")
    rows = serving.serving_rows(serving.in_intervals(source, spec, intervals), dims, spec)
    key = f"{_serving_prefix(cfg)}/{name}/{run_id}"
    rows.write.mode("overwrite").parquet(storage.uri(cfg, key))
    files = [k for k in storage.list_keys(cfg, f"{key}/") if k.endswith(".parquet")]
    # Spark writes a file with no rows for an empty result: ingesting it would drop the intervals
    # with nothing to serve; like a missing table, an empty export is skipped (the footers count)
    if not files or spark.read.parquet(storage.uri(cfg, key)).limit(1).count() == 0:
        return []
    return [storage.uri(cfg, k, scheme="s3") for k in files]


def _drop_serving_exports(cfg: Config) -> None:
    """Every serving export, once Druid has ingested them: they are copies of gold, kept only until
    their task has read them (a rerun after a crash writes its own under a new run id)."""
    from minio.deleteobjects import DeleteObject

    keys = storage.list_keys(cfg, f"{_serving_prefix(cfg)}/")
    errors = list(storage.client(cfg).remove_objects(cfg.get("storage.bucket"), [DeleteObject(k) for k in keys]))
    if errors:
        raise MedleyError(f"could not delete {len(errors)} serving exports under {_serving_prefix(cfg)}/: "
                          f"{errors[0]}", "check the object store's permissions for this bucket")


def superset(spark: SparkSession | None, cfg: Config, report: RunReport) -> None:
    """Superset's databases, datasets and charts as code (idempotent)."""
    from medley import superset as superset_client

    with Step(cfg, report, "superset") as t:
        t.note = f"{len(superset_client.provision(cfg))} charts"


# The hops in pipeline order; each takes (spark, cfg, report). Superset needs no Spark.
HOPS: dict[str, Callable[..., None]] = {"bronze": bronze, "silver": silver, "gold": gold,
                                        "reconcile": reconcile, "druid": druid, "superset": superset}
SPARK_HOPS = ("bronze", "silver", "gold", "reconcile", "druid")
