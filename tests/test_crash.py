"""A run killed by SIGKILL and rerun loses nothing and duplicates nothing.

Each test first proves the crash happened where it claims: the process died by SIGKILL, and the
Delta log and hand-over state show what the killed run did and did not commit.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from instance import fresh_bucket, generate_hours, instance_env
from medley import REPO_ROOT, druid, hops, land, pipeline, state, storage

pytestmark = [pytest.mark.services, pytest.mark.timeout(1800)]


def start_run(cfg, log, *args: str, **env: str) -> subprocess.Popen:
    """`medley run` in its own process group, output to a file (a full pipe would stall it)."""
    return subprocess.Popen([sys.executable, "-m", "medley", "run", *args], cwd=REPO_ROOT,
                            env={**instance_env(), "MEDLEY_STORAGE__BUCKET": cfg.get("storage.bucket"),
                                 "MEDLEY_NO_VENV": "1", **env},
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def keys(cfg, prefix: str) -> list[str]:
    return storage.list_keys(cfg, prefix)


def test_killed_mid_bronze_write_then_rerun_gives_exact_counts(live_cfg, spark, tmp_path):
    cfg = fresh_bucket("medley-crash-test")
    inputs = tmp_path / "input"
    inputs.mkdir()
    lines = generate_hours(inputs, "2026-11-03")
    land.land_directory(cfg, inputs)
    table_prefix = storage.table_uri(cfg, "bronze.events").split(f"{cfg.get('storage.bucket')}/", 1)[1] + "/"

    # Kill the run as soon as bronze's first data file is in the object store, before its commit.
    log_path = tmp_path / "killed-run.log"
    with log_path.open("w") as log:
        proc = start_run(cfg, log, "--stop-after", "silver")
        deadline = time.monotonic() + 600
        while not any(k.endswith(".parquet") for k in keys(cfg, table_prefix)):
            assert proc.poll() is None, log_path.read_text()[-3000:]
            assert time.monotonic() < deadline, "bronze never started writing"
            time.sleep(0.02)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    written = keys(cfg, table_prefix)
    assert any(k.endswith(".parquet") for k in written)
    assert not [k for k in written if "/_delta_log/" in k and k.endswith(".json")], \
        "the kill landed after bronze's commit: this run did not test a crash mid-write"

    report = pipeline.run(cfg, None, stop_after="silver")
    from delta.tables import DeltaTable

    history = DeltaTable.forPath(spark, storage.table_uri(cfg, "bronze.events")).history().collect()
    assert [h["version"] for h in history] == [0]          # only the rerun committed
    assert {g.table for g in report.gates} >= {"bronze.events", "silver.listen_events"}
    rows = {r["stream"].split("+")[0]: r for r in hops.reconciliation(spark, cfg)}
    for stream, n in lines.items():
        assert rows[stream]["bronze"] == n, (stream, rows[stream])
        assert rows[stream]["silver"] == n and rows[stream]["duplicates"] == 0, rows[stream]
        assert rows[stream]["quarantined"] == 0


def gold_rows(spark, cfg, table: str) -> list:
    return sorted(map(tuple, spark.read.format("delta").load(storage.table_uri(cfg, table)).collect()),
                  key=repr)


def druid_count(cfg, datasource: str, column: str | None, day: str) -> int:
    measure = f"SUM({column})" if column else "COUNT(*)"
    return druid.sql(cfg, f'SELECT {measure} AS n FROM "{datasource}" WHERE __time >= TIMESTAMP \'{day} 00:00:00\' '
                          f"AND __time < TIMESTAMP '{day} 00:00:00' + INTERVAL '1' DAY")[0]["n"]


def test_killed_after_gold_before_hand_over_then_rerun_redoes_the_dates(live_cfg, spark, tmp_path):
    day = "2026-11-05"
    cfg = fresh_bucket("medley-crash-handover-test")
    inputs = tmp_path / "input"
    inputs.mkdir()
    lines = generate_hours(inputs, day, hours=6, users=100, seed=6)
    land.land_directory(cfg, inputs)

    log_path = tmp_path / "killed-run.log"
    with log_path.open("w") as log:
        proc = start_run(cfg, log, MEDLEY_CRASH_AT="gold:gated")
        proc.wait(timeout=1200)
    output = log_path.read_text()
    assert proc.returncode == -signal.SIGKILL, output[-3000:]
    assert "gold gates: ok" in output and "-> reconcile" not in output   # gold written and gated, then killed
    assert state.pending(cfg, "gold") == [day] and state.pending(cfg, "druid") == []   # not handed over
    facts_then = gold_rows(spark, cfg, "gold.fact_listen")
    hourly_then = gold_rows(spark, cfg, "gold.agg_listens_hourly")
    assert len(facts_then) == lines["listen_events"]

    report = pipeline.run(cfg, None, stop_after="druid")
    assert ("gold", f"event dates {day}..{day}") in [(n, note) for n, _, note in report.steps]  # redone
    assert state.pending(cfg, "gold") == [] and state.pending(cfg, "druid") == []
    assert gold_rows(spark, cfg, "gold.fact_listen") == facts_then
    assert gold_rows(spark, cfg, "gold.agg_listens_hourly") == hourly_then
    assert druid_count(cfg, "fact_listen", None, day) == lines["listen_events"]
    assert druid_count(cfg, "agg_listens_hourly", "listen_count", day) == lines["listen_events"]
