"""The pipeline lock (medley/lock.py) on the real object store: runs never overlap, a second run
waits or exits 11 naming the holder, a crashed holder does not block the next run, and a run that
lost its lock cannot write the hand-over state."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from instance import fresh_bucket, instance_env
from medley import REPO_ROOT, config, lock, state, storage
from medley.errors import ExitCode

pytestmark = [pytest.mark.services, pytest.mark.timeout(600)]
BUCKET = "medley-lock-test"

# A run in its own process: holds the lock for `hold` seconds and records when it held it.
HOLDER = """
import sys, time
from medley import config, lock
name, hold, record = sys.argv[1], float(sys.argv[2]), sys.argv[3]
with lock.exclusive(config.load(), name):
    start = time.time()
    time.sleep(hold)
    with open(record, "a") as f:
        f.write(f"{name} {start} {time.time()}\\n")
"""


def holder(name: str, hold: float, record, **env: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", HOLDER, name, str(hold), str(record)], cwd=REPO_ROOT,
                            env={**instance_env(), "MEDLEY_STORAGE__BUCKET": BUCKET, "PYTHONPATH": str(REPO_ROOT),
                                 **env},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def wait_until_held(cfg, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        current = lock.current(cfg)
        if current and current.get("holder"):
            return current
        time.sleep(0.2)
    raise AssertionError("nobody took the lock")


def put_lock(cfg, body: dict) -> None:
    storage.put_bytes(cfg, lock.key(cfg), json.dumps(body).encode(), "application/json")


def test_runs_started_together_never_overlap(object_store, tmp_path):
    fresh_bucket(BUCKET)
    record = tmp_path / "held"
    runs = [holder(f"run-{i}", 0.5, record) for i in range(4)]
    outputs = [r.communicate(timeout=120)[0] for r in runs]
    assert [r.returncode for r in runs] == [0] * 4, outputs
    spans = sorted((float(a), float(b)) for _, a, b in (line.split() for line in record.read_text().splitlines()))
    assert len(spans) == 4
    assert all(end <= next_start for (_, end), (next_start, _) in zip(spans, spans[1:])), spans
    assert any("waiting for the pipeline lock: run-" in out for out in outputs), outputs


def test_a_second_run_exits_11_naming_the_holder_and_the_state_is_untouched(object_store, tmp_path):
    cfg = fresh_bucket(BUCKET)
    state.add_pending(cfg, "gold", ["2026-11-01"])
    first = holder("medley run first", 30, tmp_path / "held")
    try:
        wait_until_held(cfg)
        second = subprocess.run([sys.executable, "-m", "medley", "run"], cwd=REPO_ROOT, capture_output=True,
                                text=True, timeout=300,
                                env={**instance_env(), "MEDLEY_STORAGE__BUCKET": BUCKET, "MEDLEY_LOCK__WAIT_SECONDS": "0"})
    finally:
        first.kill()
        first.wait()
    assert second.returncode == ExitCode.BUSY, second.stdout[-2000:]
    error = second.stdout.strip().splitlines()[-1]
    assert error.startswith("medley run: error: another run holds the pipeline lock: medley run first (pid "), error
    assert state.load(cfg) == {"silver_watermark": None, "pending": {"gold": ["2026-11-01"]}}


def test_a_killed_holder_on_this_machine_frees_the_lock_at_once(object_store, tmp_path):
    cfg = fresh_bucket(BUCKET)
    first = holder("killed", 300, tmp_path / "held")
    wait_until_held(cfg)
    first.kill()
    first.wait()
    started = time.monotonic()
    second = holder("after the crash", 0, tmp_path / "held", MEDLEY_LOCK__WAIT_SECONDS="0")
    assert second.wait(timeout=60) == 0, second.stdout.read()
    assert time.monotonic() - started < 30     # not the 120 s lease


def test_another_machines_lease_holds_until_it_expires(object_store, tmp_path):
    cfg = fresh_bucket(BUCKET)
    other = {"holder": "medley.jobs silver on a pod", "token": "t", "host": "another-node", "pid": 1,
             "since": "2026-12-01T00:00:00+00:00"}
    put_lock(cfg, {**other, "expires": time.time() + 600})
    busy = holder("while the pod holds it", 0, tmp_path / "held", MEDLEY_LOCK__WAIT_SECONDS="0")
    out = busy.communicate(timeout=60)[0]
    assert busy.returncode != 0 and "another run holds the pipeline lock: medley.jobs silver on a pod" in out, out
    put_lock(cfg, {**other, "expires": time.time() - 1})
    after = holder("after the pod's lease expired", 0, tmp_path / "held", MEDLEY_LOCK__WAIT_SECONDS="0")
    assert after.wait(timeout=60) == 0, after.stdout.read()


def test_a_run_that_lost_its_lock_cannot_write_the_state(object_store):
    cfg = fresh_bucket(BUCKET)
    short = config.load({**cfg.env, "MEDLEY_LOCK__LEASE_SECONDS": "2"})
    with lock.exclusive(short, "slow run"):
        state.add_pending(short, "gold", ["2026-11-01"])
        put_lock(short, {"holder": "newer run", "token": "n", "host": "another-node", "pid": 1,
                         "since": "2026-12-01T00:00:00+00:00", "expires": time.time() + 600})
        time.sleep(1.5)     # the renewal (every lease/4 s) finds the lock taken
        with pytest.raises(lock.PipelineBusy, match="this run lost the pipeline lock"):
            state.add_pending(short, "gold", ["2026-11-02"])
    assert state.pending(cfg, "gold") == ["2026-11-01"]
    assert lock.current(cfg)["holder"] == "newer run"      # the loser did not free the newer run's lock
