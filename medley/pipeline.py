"""The pipeline, hop by hop: land -> bronze -> silver -> gold -> Druid -> Superset.

Every hop is gated by Great Expectations on what it just wrote; a failed gate raises GateFailed
(exit code GATE_FAILED), so the next hop never runs. Each run reconciles counts per stream:
bronze lines = silver rows + quarantined + duplicates removed, and gold facts = silver rows.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from medley import state, storage
from medley.config import Config
from medley.console import say, table
from medley.contracts import all_contracts, contract
from medley.delta import exists, read
from medley.errors import MedleyError, ReconciliationFailed
from medley.quality import GateResult, require_pass, validate
from medley.spark import out_of_memory

HOPS = ("land", "bronze", "silver", "gold", "druid", "superset")
# silver table -> the landing stream whose viirya lines it is made of; interana lines become page views
OWN_STREAM = {t: t for t in ("listen_events", "page_view_events", "auth_events", "status_change_events")}
FACT_OF = {"listen_events": "fact_listen", "page_view_events": "fact_page_view",
           "auth_events": "fact_auth", "status_change_events": "fact_status_change"}


@dataclass
class RunReport:
    run_id: str
    steps: list[tuple[str, float, str]] = field(default_factory=list)
    gates: list[GateResult] = field(default_factory=list)
    reconciliation: list[dict] = field(default_factory=list)
    druid_rows: dict[str, int] = field(default_factory=dict)
    stopped_after: str = ""


def _table(spark: SparkSession, cfg: Config, name: str) -> DataFrame | None:
    location = storage.table_uri(cfg, name)
    return read(spark, location) if exists(spark, location) else None


def _gate(cfg: Config, report: RunReport, ref: str, df: DataFrame, extra: list[dict] | None = None,
          extra_columns: tuple[str, ...] = ()) -> None:
    result = validate(cfg, contract(ref), df, report.run_id, extra, extra_columns)
    report.gates.append(result)
    require_pass(result)


def gate_bronze(spark, cfg, report, bronze_run_id: str) -> None:
    rows = _table(spark, cfg, "bronze.events")
    if rows is not None:
        _gate(cfg, report, "bronze/events", rows.where(F.col("ingest_run_id") == bronze_run_id))


def gate_silver(spark, cfg, report, landing_dates, event_dates) -> None:
    bronze_lines = _table(spark, cfg, "bronze.events").where(F.col("event_date").isin(landing_dates)).count()
    quarantine = _table(spark, cfg, "silver.quarantine")
    if quarantine is not None:
        limit = int(cfg.get("quality.quarantine_max_rate") * bronze_lines)
        _gate(cfg, report, "silver/quarantine", quarantine.where(F.col("event_date").isin(landing_dates)),
              [{"type": "expect_table_row_count_to_be_between",
                "kwargs": {"min_value": 0, "max_value": limit},
                "meta": {"notes": f"at most quality.quarantine_max_rate of the {bronze_lines} lines "
                                  "of these landing dates: more points at a broken producer"}}])
    for c in all_contracts("silver"):
        df = _table(spark, cfg, c.table)
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
        keys = _table(spark, cfg, f"gold.{dim_table}").select(F.col(dim_col).alias(flag)).distinct()
        df = df.join(keys, on=df[col.name] == keys[flag], how="left")
        flags.append(flag)
        extra.append({"type": "expect_column_values_to_not_be_null", "kwargs": {"column": flag},
                      "meta": {"notes": f"referential integrity: {c.name}.{col.name} -> {col.references}"}})
    return df.select(*c.column_names, *flags), extra, tuple(flags)


def gate_gold(spark, cfg, report, event_dates: list[str]) -> None:
    """Each gold table as written this run (the replaced event dates of facts and aggregates, the
    whole of a dimension), with referential integrity of every fact foreign key."""
    for c in all_contracts("gold"):
        df = _table(spark, cfg, c.table)
        if df is None:
            continue
        if "event_date" in c.partition_by:
            df = df.where(F.col("event_date").isin(event_dates))
        df, extra, flags = with_reference_flags(spark, cfg, c, df)
        _gate(cfg, report, f"gold/{c.name}", df, extra, flags)


def reconcile(spark, cfg) -> list[dict]:
    """Per stream over whole tables: bronze lines = silver rows + quarantined + duplicates, and
    gold fact rows = silver rows. Interana lines are counted as page views (their own table)."""
    def counts(name: str, by: str, where=None) -> dict[str, int]:
        df = _table(spark, cfg, name)
        if df is None:
            return {}
        df = df.where(where) if where is not None else df
        return {r[0]: r[1] for r in df.groupBy(by).count().collect()}

    bronze = counts("bronze.events", "stream")
    quarantined = counts("silver.quarantine", "stream")
    duplicates = counts("silver.duplicate_events", "stream")
    rows = []
    for table, fact in FACT_OF.items():
        silver = counts(f"silver.{table}", "dialect")
        gold = sum(counts(f"gold.{fact}", "event_date").values())
        streams = [table] + (["interana_events"] if table == "page_view_events" else [])
        dialects = ["viirya"] + (["interana"] if table == "page_view_events" else [])
        own = sum(silver.get(d, 0) for d in dialects)
        landed = sum(bronze.get(s, 0) for s in streams)
        q = sum(quarantined.get(s, 0) for s in streams)
        d = sum(duplicates.get(s, 0) for s in streams)
        rows.append({"stream": "+".join(streams), "bronze": landed, "silver": own, "quarantined": q,
                     "duplicates": d, "silver_total": sum(silver.values()), "gold": gold,
                     "bronze_ok": landed == own + q + d, "gold_ok": gold == sum(silver.values())})
    return rows


def load_druid(spark, cfg, report, event_dates: list[str]) -> None:
    """Ingest the replaced dates of each gold table that has a Druid spec; the interval is
    replaced in Druid too (appendToExisting false), so reruns never duplicate rows."""
    from medley import druid

    for spec_path in sorted(druid.SPECS_DIR.glob("*.json")):
        name = spec_path.stem
        df = _table(spark, cfg, f"gold.{name}")
        if df is None:
            continue
        files = df.where(F.col("event_date").isin(event_dates)).inputFiles()
        if not files:
            continue
        bucket_prefix = f"s3a://{cfg.get('storage.bucket')}/"
        objects = [f"s3://{cfg.get('storage.bucket')}/{f[len(bucket_prefix):]}" for f in files]
        intervals = [f"{d}/{_next_day(d)}" for d in event_dates]
        task = druid.ingest(cfg, druid.render_spec(cfg, druid.load_spec(name), objects, intervals))
        druid.wait_for_task(cfg, task, name)
        druid.wait_for_datasource(cfg, name, min_rows=1)
        report.druid_rows[name] = druid.sql(cfg, f'SELECT COUNT(*) AS n FROM "{name}"')[0]["n"]


def _next_day(d: str) -> str:
    from datetime import date, timedelta

    return str(date.fromisoformat(d) + timedelta(days=1))


def run(cfg: Config, input_dir: Path | None = None, stop_after: str | None = None) -> RunReport:
    from medley import land
    from medley.spark import session
    from spark.bronze import events as bronze_job
    from spark.silver import run as silver_job

    report = RunReport(run_id=time.strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6])

    def timed(name: str):
        return _Timed(cfg, report, name)

    storage.ensure_bucket(cfg)
    if input_dir:
        with timed("land") as t:
            landed = land.land_directory(cfg, input_dir)
            t.note = f"{sum(x.lines for x in landed)} lines in {sum(x.objects for x in landed)} objects"
    if stop_after == "land":
        return report
    with timed("spark session"):
        spark = session(cfg, f"medley-{report.run_id}")
    with timed("bronze") as t:
        bronze = bronze_job.run(spark, cfg)
        t.note = f"{len(bronze.new_objects)} new objects, {sum(bronze.rows_by_stream.values())} lines"
    if bronze.new_objects:
        with timed("bronze gate"):
            gate_bronze(spark, cfg, report, bronze.run_id)
    if stop_after == "bronze":
        return report
    with timed("silver") as t:
        bronze_rows = _table(spark, cfg, "bronze.events")
        landing_dates, watermark = (silver_job.landing_dates_since(bronze_rows, state.load(cfg)["silver_watermark"])
                                    if bronze_rows is not None else (set(), None))
        silver = silver_job.run(spark, cfg, landing_dates)
        t.note = f"landing dates {_span(silver.landing_dates)}, event dates {_span(silver.event_dates)}"
    if silver.landing_dates:
        with timed("silver gates"):
            gate_silver(spark, cfg, report, silver.landing_dates, silver.event_dates)
        state.add_pending(cfg, "gold", silver.event_dates)
        state.set_silver_watermark(cfg, watermark)
    if stop_after == "silver":
        return report
    gold_dates = state.pending(cfg, "gold")
    with timed("gold") as t:
        from spark.gold import run as gold_job

        t.note = f"event dates {_span(gold_dates)}"
        if gold_dates:
            gold_job.run(spark, cfg, set(gold_dates))
    if gold_dates:
        with timed("gold gates"):
            gate_gold(spark, cfg, report, gold_dates)
        state.done(cfg, "gold", gold_dates, hand_to="druid")
    with timed("reconcile") as t:
        report.reconciliation = reconcile(spark, cfg)
        broken = [r for r in report.reconciliation if not (r["bronze_ok"] and r["gold_ok"])]
        if broken:
            raise ReconciliationFailed(f"counts do not reconcile for {[r['stream'] for r in broken]}: {broken}",
                                       "a job lost or duplicated rows: keep the tables for inspection "
                                       "and report it")
    if stop_after == "gold":
        return report
    with timed("druid") as t:
        druid_dates = state.pending(cfg, "druid")
        t.note = f"event dates {_span(druid_dates)}"
        if druid_dates:
            load_druid(spark, cfg, report, druid_dates)
            state.done(cfg, "druid", druid_dates)
    if stop_after == "druid":
        return report
    with timed("superset") as t:
        from medley import superset

        t.note = f"{len(superset.provision(cfg))} charts"
    return report


def _span(dates: list[str]) -> str:
    return f"{dates[0]}..{dates[-1]}" if dates else "(none)"


class _Timed:
    def __init__(self, cfg: Config, report: RunReport, name: str):
        self.cfg, self.report, self.name, self.note = cfg, report, name, ""

    def __enter__(self):
        self.start = time.monotonic()
        say(f"-> {self.name} ...")
        return self

    def __exit__(self, kind, err, _tb):
        seconds = time.monotonic() - self.start
        self.report.steps.append((self.name, seconds, "FAILED" if kind else self.note))
        say(f"   {self.name}: {'FAILED' if kind else 'ok'} ({seconds:.1f}s) {self.note}")
        if isinstance(err, Exception) and not isinstance(err, MedleyError):
            oom = out_of_memory(self.cfg, self.name, err)
            if oom:
                raise oom from err
        return False


def summary(report: RunReport) -> str:
    parts = [table(["step", "seconds", "result"], [(n, f"{s:.1f}", note) for n, s, note in report.steps])]
    if report.reconciliation:
        parts.append(table(["stream", "bronze", "silver", "quarantined", "duplicates", "gold", "reconciles"],
                           [(r["stream"], r["bronze"], r["silver"], r["quarantined"], r["duplicates"],
                             r["gold"], "yes" if r["bronze_ok"] and r["gold_ok"] else "NO")
                            for r in report.reconciliation]))
    if report.gates:
        parts.append(table(["gate", "expectations", "result"],
                           [(g.table, g.evaluated, "passed" if g.success else "FAILED: " + "; ".join(g.failed))
                            for g in report.gates]))
    if report.druid_rows:
        parts.append(table(["druid datasource", "rows"], sorted(report.druid_rows.items())))
    return "\n\n".join(parts)
