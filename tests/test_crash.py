"""A job killed mid-write and rerun loses nothing and duplicates nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from instance import instance_env
from medley import REPO_ROOT, config, land, pipeline, storage
from medley.cli import main as cli_main

pytestmark = pytest.mark.services
BUCKET = "medley-crash-test"


def test_killed_run_then_rerun_gives_exact_counts(live_cfg, spark, tmp_path):
    env = {**instance_env(), "MEDLEY_STORAGE__BUCKET": BUCKET}
    cfg = config.load(env)
    s3 = storage.client(cfg)
    if s3.bucket_exists(BUCKET):
        from minio.deleteobjects import DeleteObject

        assert not list(s3.remove_objects(BUCKET, [DeleteObject(o.object_name)
                                                   for o in s3.list_objects(BUCKET, recursive=True)]))
    assert cli_main(["generate", "--dialect", "viirya", "--start-time", "2026-11-03T00:00:00",
                     "--end-time", "2026-11-03T12:00:00", "--nusers", "200", "--randomseed", "5",
                     "--out", str(tmp_path)], {}) == 0
    lines = {f.name: len(f.read_text().splitlines()) for f in tmp_path.iterdir()}
    land.land_directory(cfg, tmp_path)

    # Kill the first run while bronze is writing (its step prints before Spark starts the write).
    proc = subprocess.Popen([sys.executable, "-m", "medley", "run", "--stop-after", "silver"],
                            cwd=REPO_ROOT, env={**env, "MEDLEY_NO_VENV": "1"}, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    for line in proc.stdout:
        if line.startswith("-> bronze"):
            time.sleep(8)
            break
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()

    report = pipeline.run(cfg, None, stop_after="silver")
    assert all(g.success for g in report.gates)
    rows = {r["stream"].split("+")[0]: r for r in pipeline.reconcile(spark, cfg)}
    for stream, n in lines.items():
        assert rows[stream]["bronze"] == n, (stream, rows[stream])
        assert rows[stream]["bronze_ok"], rows[stream]
        assert rows[stream]["duplicates"] == 0 and rows[stream]["quarantined"] == 0
