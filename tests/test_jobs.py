"""The Kubernetes entry point run exactly as the pods run it, hop by hop, against the local services.

The SparkApplications run `medley/jobs.py` as a file (mainApplicationFile local:///opt/medley/medley/jobs.py)
from the image's working directory /opt/medley with PYTHONPATH=/opt/medley; the Druid and Superset
Jobs run `python -m medley.jobs <hop>`. Here the repository root plays /opt/medley.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from instance import fresh_bucket, generate_hours, instance_env
from medley import REPO_ROOT, druid, land, state, storage
from medley.errors import ExitCode

pytestmark = [pytest.mark.services, pytest.mark.timeout(1800)]
BUCKET = "medley-jobs-test"
DAY = "2026-11-07"


def run_job(*argv: str, env: dict | None = None) -> subprocess.CompletedProcess:
    env = {**instance_env(), "MEDLEY_STORAGE__BUCKET": BUCKET, "PYTHONPATH": str(REPO_ROOT), **(env or {})}
    return subprocess.run([sys.executable, *argv], cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                          timeout=900)


def table_exists(spark, cfg, name: str) -> bool:
    from delta.tables import DeltaTable

    return DeltaTable.isDeltaTable(spark, storage.table_uri(cfg, name))


def test_each_hop_runs_as_the_pod_runs_it(live_cfg, spark, tmp_path):
    cfg = fresh_bucket(BUCKET)
    lines = generate_hours(tmp_path, DAY, hours=4, users=60, seed=3)
    land.land_directory(cfg, tmp_path)

    for hop, written in (("bronze", "bronze.events"), ("silver", "silver.listen_events"),
                         ("gold", "gold.fact_listen"), ("reconcile", None), ("druid", None)):
        done = run_job("medley/jobs.py", hop)
        assert done.returncode == 0, f"{hop}:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
        assert written is None or table_exists(spark, cfg, written), hop
    assert state.pending(cfg, "gold") == [] and state.pending(cfg, "druid") == []
    facts = spark.read.format("delta").load(storage.table_uri(cfg, "gold.fact_listen")).count()
    assert facts == lines["listen_events"]
    in_druid = druid.sql(cfg, f"SELECT COUNT(*) AS n FROM \"fact_listen\" WHERE TIME_FLOOR(__time, 'P1D') "
                              f"= TIMESTAMP '{DAY} 00:00:00'")[0]["n"]
    assert in_druid == facts

    done = run_job("-m", "medley.jobs", "superset")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]


def test_a_failed_gate_is_the_pods_exit_code(live_cfg, tmp_path):
    """Kubernetes and Airflow see a failed hop by its exit code (6: gate failed), the work stays queued."""
    from corpus import BAD_LINES, GOOD_LINES

    cfg = fresh_bucket(BUCKET + "-gate")
    (tmp_path / "listen_events").write_text("\n".join([GOOD_LINES[1][1], BAD_LINES[2][1]]) + "\n")
    land.land_directory(cfg, tmp_path)
    env = {"MEDLEY_STORAGE__BUCKET": BUCKET + "-gate", "MEDLEY_QUALITY__QUARANTINE_MAX_RATE": "0"}
    assert run_job("medley/jobs.py", "bronze", env=env).returncode == 0
    done = run_job("medley/jobs.py", "silver", env=env)
    assert done.returncode == ExitCode.GATE_FAILED, done.stderr[-3000:]
    error = done.stderr.strip().splitlines()[-1]
    assert error.startswith("medley.jobs silver: error: gate failed for silver.quarantine")
    assert state.load(cfg)["silver_watermark"] is None and state.pending(cfg, "gold") == []
