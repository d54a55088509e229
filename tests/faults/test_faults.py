"""Faults injected for real on the real services, each at a point the test proves it reached: the
run fails with one line naming the fix, nothing committed is corrupted, the work not handed over
stays queued, and the next run is exact (0 rows lost, 0 duplicated). docs/reliability.md has the
table of faults and outcomes; the JVM kill sweep is tests/faults/test_jvm_kill_sweep.py.
The tests that run the pipeline through Druid, and the two whole runs at once (tests/test_lock.py
tests the lock itself in CI), are marked `slow`; CI runs the others."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from faultlib import (delta_versions, druid_total, generate, last_line, pids_with, rows, start_run,
                      wait_for)
from instance import fresh_bucket, instance_env
from medley import REPO_ROOT, druid, hops, land, lock, pipeline, services, state, storage
from medley.errors import ExitCode, ServiceFailed

pytestmark = [pytest.mark.services, pytest.mark.timeout(1800)]


def failed_with(proc, output: str, code: ExitCode, error: str) -> None:
    """The run exited with code, its last line the error and the rerun advice every failed hop gives."""
    assert proc.returncode == code, output[-3000:]
    assert last_line(output) == (f"medley run: error: {error}, then rerun: the work this run did not hand "
                                 "over is still queued"), output[-3000:]


def reconciles_exactly(spark, cfg, lines: dict[str, int], gold: bool = False) -> None:
    """Every landed line is in bronze once, and in silver (nothing quarantined or duplicated by the
    fault); with gold, every silver row is in gold once."""
    for r in hops.reconciliation(spark, cfg):
        stream = r["stream"].split("+")[0]
        if stream not in lines:
            continue
        assert (r["bronze"], r["silver"], r["quarantined"], r["duplicates"]) == (lines[stream], lines[stream], 0, 0), r
        if gold:
            assert r["gold"] == lines[stream], r


def committed(cfg, table: str) -> bool:
    """A Delta commit of the table is in the object store (read without Spark, while a run works)."""
    prefix = storage.table_uri(cfg, table).split(f"{cfg.get('storage.bucket')}/", 1)[1] + "/_delta_log/"
    return any(k.endswith(".json") for k in storage.list_keys(cfg, prefix))


def test_minio_stopped_mid_silver_fails_naming_the_object_store_then_the_next_run_is_exact(lake, spark, tmp_path):
    day = "2026-10-02"
    cfg = fresh_bucket("medley-fault-minio")
    lines = generate(tmp_path / "input", f"{day}T08:00:00", f"{day}T12:00:00")
    land.land_directory(cfg, tmp_path / "input")
    minio = services.all_services(cfg, ["minio"])[0]

    # stop MinIO once silver's first commit (quarantine) is in, before its four tables' commits
    log = tmp_path / "run.log"
    with log.open("w") as out:
        proc = start_run(cfg, out, "--stop-after", "silver")
        try:
            wait_for(lambda: committed(cfg, "silver.quarantine"), proc, log, "silver's first commit")
            services.stop(cfg, minio)
            proc.wait(timeout=900)
        finally:
            services.start(cfg, minio)
    output = log.read_text()
    failed_with(proc, output, ExitCode.SERVICE_FAILED,
                f"silver: the object store at {cfg.get('storage.endpoint')} is not reachable -> start it "
                "(python3 -m medley up minio) or fix storage.endpoint")
    assert "Traceback" not in output and "   silver: FAILED" in output
    assert delta_versions(spark, cfg, "silver.quarantine") == [0]
    assert delta_versions(spark, cfg, "silver.listen_events") == [], "MinIO stopped after silver's commits"
    assert state.load(cfg) == {"silver_watermark": None, "pending": {}}   # nothing handed over
    assert lock.current(cfg)["holder"] is not None     # left by the failed run: its dead pid frees it

    report = pipeline.run(cfg, None, stop_after="silver")
    assert ("silver", f"landing dates {day}..{day}, event dates {day}..{day}") in [(n, note) for n, _, note in report.steps]
    assert state.pending(cfg, "gold") == [day]
    reconciles_exactly(spark, cfg, lines)


def peon_of(cfg, datasource: str, day: str) -> tuple[str, int] | None:
    """The running Druid task ingesting day into datasource (Druid is shared by the tests), and the
    pid of its peon (the task's JVM)."""
    running = requests.get(f"{druid.url(cfg)}/druid/indexer/v1/runningTasks", timeout=10).json()
    for task in running:
        if task.get("dataSource") != datasource:
            continue
        payload = requests.get(f"{druid.url(cfg)}/druid/indexer/v1/task/{task['id']}", timeout=10).json()
        intervals = payload["payload"]["spec"]["dataSchema"]["granularitySpec"]["intervals"]
        pids = pids_with(task["id"])
        if any(i.startswith(day) for i in intervals) and pids:
            return task["id"], pids[0]
    return None


@pytest.mark.slow      # a run through gold, then three Druid hops: minutes on 2 cores
def test_druid_down_then_a_failed_task_fail_the_druid_hop_clearly_and_the_work_stays_queued(lake, spark, tmp_path):
    day = "2026-10-04"
    cfg = fresh_bucket("medley-fault-druid")
    lines = generate(tmp_path / "input", f"{day}T08:00:00", f"{day}T12:00:00")
    land.land_directory(cfg, tmp_path / "input")
    pipeline.run(cfg, None, stop_after="gold")
    assert state.pending(cfg, "druid") == [day]
    first, *_ = sorted(p.stem for p in druid.SPECS_DIR.glob("*.json"))   # the hop's first datasource

    # Druid's router (the one endpoint Medley talks to) is down
    router = services.all_services(cfg, ["druid-router"])[0]
    services.stop(cfg, router)
    try:
        with pytest.raises(ServiceFailed) as down:
            hops.druid(spark, cfg, hops.RunReport("druid-down"))
    finally:
        services.start(cfg, router)
    assert str(down.value) == (f"Druid is not reachable at {druid.url(cfg)} (ConnectionError) -> start it: "
                               "python3 -m medley up zookeeper druid")
    assert state.pending(cfg, "druid") == [day]

    # an ingestion task fails: its peon (the task's own JVM) is killed while it runs
    failed: list[BaseException] = []
    hop = threading.Thread(target=lambda: _capture(failed, hops.druid, spark, cfg, hops.RunReport("task-killed")))
    hop.start()
    seen = None
    while seen is None and hop.is_alive():
        seen = peon_of(cfg, first, day)
        time.sleep(0.1)
    assert seen, f"the {first} task ended before its peon was seen: {failed}"
    task, peon = seen
    os.kill(peon, signal.SIGKILL)
    hop.join()
    [err] = failed
    assert isinstance(err, druid.IngestionFailed), err
    assert str(err).startswith(f"Druid ingestion task {task} for datasource '{first}' failed: ") and "\n" not in str(err)
    assert str(err).endswith(f"-> read the task log: {druid.url(cfg)}/druid/indexer/v1/task/{task}/log")
    assert state.pending(cfg, "druid") == [day]

    # both back: the queued day is loaded, once
    hops.druid(spark, cfg, hops.RunReport("druid-back"))
    assert state.pending(cfg, "druid") == []
    assert druid_total(cfg, "fact_listen", "COUNT(*)", day) == lines["listen_events"]
    assert druid_total(cfg, "agg_listens_hourly", "SUM(listen_count)", day) == lines["listen_events"]


def _capture(errors: list, fn, *args) -> None:
    try:
        fn(*args)
    except BaseException as err:  # noqa: BLE001 - the test asserts on it
        errors.append(err)


@pytest.mark.slow      # three runs of the pipeline; tests/test_lock.py covers the lock in CI
def test_two_runs_at_once_one_refuses_one_waits_and_the_state_is_exact(lake, spark, tmp_path):
    day = "2026-10-06"
    cfg = fresh_bucket("medley-fault-two-runs")
    lines = generate(tmp_path / "input", f"{day}T08:00:00", f"{day}T12:00:00")
    logs = {name: tmp_path / f"{name}.log" for name in ("first", "waiting")}
    with logs["first"].open("w") as first_out, logs["waiting"].open("w") as waiting_out:
        first = start_run(cfg, first_out, "--input", str(tmp_path / "input"), "--stop-after", "silver")
        wait_for(lambda: ((lock.current(cfg) or {}).get("holder") or "").startswith("medley run "),
                 first, logs["first"], "the first run took the pipeline lock")
        holder = lock.current(cfg)["holder"]
        refused = subprocess.run([sys.executable, "-m", "medley", "run", "--stop-after", "silver"],
                                 cwd=REPO_ROOT, capture_output=True, text=True, timeout=300,
                                 env={**instance_env(), "MEDLEY_STORAGE__BUCKET": cfg.get("storage.bucket"),
                                      "MEDLEY_NO_VENV": "1", "MEDLEY_LOCK__WAIT_SECONDS": "0"})
        waiting = start_run(cfg, waiting_out, "--stop-after", "silver")
        assert first.wait(timeout=1200) == 0, logs["first"].read_text()[-3000:]
        assert waiting.wait(timeout=1200) == 0, logs["waiting"].read_text()[-3000:]
    assert refused.returncode == ExitCode.BUSY, refused.stdout[-2000:]
    assert last_line(refused.stdout).startswith(
        f"medley run: error: another run holds the pipeline lock: {holder} (pid {first.pid} on "), refused.stdout
    waited = logs["waiting"].read_text()
    assert f"waiting for the pipeline lock: {holder} (pid {first.pid} on " in waited
    # the waiting run started after the first had committed: bronze found nothing new to ingest
    assert "   bronze: ok" in waited and " 0 new objects, 0 lines" in waited, waited
    assert delta_versions(spark, cfg, "bronze.events") == [0]
    assert state.pending(cfg, "gold") == [day] and state.load(cfg)["silver_watermark"]
    assert lock.current(cfg)["holder"] is None
    reconciles_exactly(spark, cfg, lines)


@pytest.mark.slow      # two runs through Druid
def test_late_events_for_a_built_day_rebuild_its_gold_and_druid_intervals_exactly(lake, spark, tmp_path):
    day = "2026-10-08"
    cfg = fresh_bucket("medley-fault-late-data")
    first = generate(tmp_path / "first", f"{day}T08:00:00", f"{day}T12:00:00")
    pipeline.run(cfg, tmp_path / "first", stop_after="druid")
    assert druid_total(cfg, "fact_listen", "COUNT(*)", day) == first["listen_events"]

    # events of the same day arrive after it was built through Druid
    late = generate(tmp_path / "late", f"{day}T12:00:00", f"{day}T14:00:00", seed=6)
    assert late["listen_events"]
    total = {s: first[s] + late[s] for s in first}
    report = pipeline.run(cfg, tmp_path / "late", stop_after="druid")
    steps = {n: note for n, _, note in report.steps}
    assert steps["gold"] == steps["druid"] == f"event dates {day}..{day}"      # the day rebuilt, both
    assert state.pending(cfg, "gold") == [] and state.pending(cfg, "druid") == []
    reconciles_exactly(spark, cfg, total, gold=True)
    assert len(rows(spark, cfg, "gold.fact_listen")) == total["listen_events"]
    # appended instead of replaced, Druid would hold the first batch twice
    assert druid_total(cfg, "fact_listen", "COUNT(*)", day) == total["listen_events"]
    assert druid_total(cfg, "agg_listens_hourly", "SUM(listen_count)", day) == total["listen_events"]


@pytest.fixture
def small_disk(tmp_path):
    """A 1 GiB tmpfs of the test's own: Spark's scratch space, filled on purpose. Not smaller: each
    Spark session first copies its jars there (629 MB; a 32 MiB one failed the session's start)."""
    mount = tmp_path / "scratch"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1g", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "--lazy", str(mount)], check=True)


def fill(mount: Path) -> Path:
    """Write zeros into mount until the device is full."""
    ballast = mount / "ballast"
    with ballast.open("wb") as f:
        try:
            while True:
                f.write(b"\0" * (1 << 20))
                f.flush()
        except OSError as err:
            assert err.errno == errno.ENOSPC, err
    return ballast


def test_a_full_disk_fails_with_one_line_nothing_is_corrupted_and_the_run_completes_with_space(lake, spark,
                                                                                               small_disk, tmp_path):
    day = "2026-10-10"
    cfg = fresh_bucket("medley-fault-disk-full")
    lines = generate(tmp_path / "input", f"{day}T08:00:00", f"{day}T12:00:00")
    land.land_directory(cfg, tmp_path / "input")
    scratch = {"MEDLEY_SPARK__LOCAL_DIR": str(small_disk)}

    # the disk fills while silver runs (bronze, which ran with space, has committed)
    log = tmp_path / "run.log"
    with log.open("w") as out:
        proc = start_run(cfg, out, "--stop-after", "silver", **scratch)
        wait_for(lambda: "-> silver ..." in log.read_text(), proc, log, "silver started")
        ballast = fill(small_disk)
        proc.wait(timeout=900)
    output = log.read_text()
    failed_with(proc, output, ExitCode.NO_DISK,
                f"silver: no space left on device for Spark's scratch files in {small_disk} -> free space "
                "there or point spark.local_dir (MEDLEY_SPARK__LOCAL_DIR) at a larger disk")
    assert "Traceback" not in output
    # nothing corrupted: bronze's commit is whole, silver handed nothing over
    assert delta_versions(spark, cfg, "bronze.events") == [0]
    assert len(rows(spark, cfg, "bronze.events")) == sum(lines.values())
    assert state.load(cfg) == {"silver_watermark": None, "pending": {}}

    ballast.unlink()
    with log.open("w") as out:
        rerun = start_run(cfg, out, "--stop-after", "silver", **scratch)
        assert rerun.wait(timeout=900) == 0, log.read_text()[-3000:]
    assert state.pending(cfg, "gold") == [day]
    reconciles_exactly(spark, cfg, lines)
