"""Reconciliation catches rows lost or duplicated between hops: exit code 7 through the CLI, the
run stops before Druid, and nothing is written, so the tables stay as they were for inspection."""

from __future__ import annotations

import pytest

from instance import fresh_bucket, generate_hours, instance_env
from medley import pipeline, state, storage
from medley.cli import main as cli_main
from medley.errors import ExitCode

pytestmark = [pytest.mark.services, pytest.mark.timeout(1800)]
BUCKET = "medley-reconcile-test"
TABLES = ("bronze.events", "silver.listen_events", "silver.quarantine", "silver.duplicate_events",
          "gold.fact_listen", "gold.agg_listens_hourly", "gold.dim_user")


def versions(spark, cfg) -> dict[str, int]:
    from delta.tables import DeltaTable

    return {t: DeltaTable.forPath(spark, storage.table_uri(cfg, t)).history(1).first()["version"] for t in TABLES}


@pytest.fixture(scope="module")
def built(live_cfg, spark, tmp_path_factory):
    """A lakehouse built to gold that reconciles."""
    cfg = fresh_bucket(BUCKET)
    inputs = tmp_path_factory.mktemp("reconcile-input")
    generate_hours(inputs, "2026-11-04", hours=6, users=100, seed=9)
    report = pipeline.run(cfg, inputs, stop_after="gold")
    assert all(r["bronze_ok"] and r["gold_ok"] for r in report.reconciliation), report.reconciliation
    return cfg


def run_cli(capsys, stop_after: str) -> tuple[int, str]:
    code = cli_main(["run", "--stop-after", stop_after], {**instance_env(), "MEDLEY_STORAGE__BUCKET": BUCKET})
    return code, capsys.readouterr().out


@pytest.mark.parametrize("tables, change", [
    (["gold.fact_listen"], "duplicate"),                          # breaks gold facts = silver rows only
    (["silver.listen_events", "gold.fact_listen"], "delete"),     # breaks bronze = silver + quarantine + duplicates only
], ids=["gold-duplicate", "silver-and-gold-loss"])
def test_a_lost_or_duplicated_row_stops_the_run(built, spark, capsys, tables, change):
    from delta.tables import DeltaTable

    cfg = built
    good = {t: DeltaTable.forPath(spark, storage.table_uri(cfg, t)).history(1).first()["version"] for t in tables}
    event_key = spark.read.format("delta").load(storage.table_uri(cfg, tables[0])).first().event_key
    for t in tables:
        location = storage.table_uri(cfg, t)
        if change == "duplicate":
            (spark.read.format("delta").load(location).where(f"event_key = '{event_key}'")
             .write.format("delta").mode("append").save(location))
        else:
            DeltaTable.forPath(spark, location).delete(f"event_key = '{event_key}'")
    before, queued = versions(spark, cfg), state.load(cfg)
    try:
        code, out = run_cli(capsys, "druid")
        assert code == ExitCode.RECONCILIATION_FAILED, out[-3000:]
        error = next(line for line in out.splitlines() if line.startswith("medley run: error:"))
        assert "counts do not reconcile for ['listen_events']" in error
        broken = "'gold_ok': False" if change == "duplicate" else "'bronze_ok': False"
        assert broken in error and error.count("_ok': False") == 1, error
        assert "-> druid" not in out                                          # the run stopped there
        assert versions(spark, cfg) == before and state.load(cfg) == queued   # nothing written
    finally:
        for t, version in good.items():
            DeltaTable.forPath(spark, storage.table_uri(cfg, t)).restoreToVersion(version)
    code, out = run_cli(capsys, "gold")     # restored, the same run goes through
    assert code == ExitCode.OK and "reconcile: ok" in out, out[-3000:]
