"""`medley run --every`: cycles land what the producer's files gained, run the shared hops on it,
duplicate nothing, and a SIGTERM lets the running cycle finish before the loop exits 0.

The loop runs the hops up to silver here: the hops themselves (gold, reconcile, druid) have their
own tests, and what this proves is the loop around them (it is marked slow: three cycles of Spark
hops). Druid visibility is measured by bench/bench_freshness.py. The tail and the duration parser
are cheap (MinIO only) and run in the default suite.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from instance import fresh_bucket, generate_hours, instance_env
from medley import REPO_ROOT, continuous, lock, storage

STREAMS = ("page_view_events", "listen_events", "auth_events", "status_change_events")


@pytest.mark.parametrize("text, seconds", [("2m", 120), ("90s", 90), ("1h", 3600), ("45", 45), ("0.5m", 30)])
def test_every_takes_seconds_minutes_and_hours(text, seconds):
    assert continuous.parse_every(text) == seconds


@pytest.mark.parametrize("text", ["", "0", "2d", "-1m", "m"])
def test_every_refuses_what_is_not_a_positive_duration(text):
    with pytest.raises(ValueError, match="e.g. 2m"):
        continuous.parse_every(text)


def landing_lines(cfg) -> int:
    import gzip

    s3 = storage.client(cfg)
    bucket = cfg.get("storage.bucket")
    return sum(len(gzip.decompress(s3.get_object(bucket, key).read()).splitlines())
               for key in storage.list_keys(cfg, cfg.get("storage.landing_prefix").strip("/") + "/"))


@pytest.mark.services
def test_tail_lands_only_complete_appended_lines_once(object_store, tmp_path):
    cfg = fresh_bucket("medley-tail-test")
    source = tmp_path / "generated"
    source.mkdir()
    generate_hours(source, "2026-11-05", hours=4, users=200)
    lines = (source / "page_view_events").read_text().splitlines(keepends=True)
    tailed = tmp_path / "tailed"
    tailed.mkdir()
    target = tailed / "page_view_events"

    target.write_text("".join(lines[:10]) + lines[10][:25])      # the 11th line is still being written
    assert continuous.tail_directory(cfg, tailed)[0] == 10
    assert continuous.tail_directory(cfg, tailed) == (0, 0)       # nothing new: nothing landed again
    with target.open("a") as f:
        f.write(lines[10][25:] + "".join(lines[11:]))
    landed, _ = continuous.tail_directory(cfg, tailed)
    assert landed == len(lines) - 10
    assert landing_lines(cfg) == len(lines)

    target.write_text("".join(lines[:3]))                          # replaced by a shorter file
    assert continuous.tail_directory(cfg, tailed)[0] == 3


def bronze_lines_by_stream(spark, cfg) -> dict[str, int]:
    from medley.delta import read

    rows = read(spark, storage.table_uri(cfg, "bronze.events")).groupBy("stream").count().collect()
    return {r["stream"]: r["count"] for r in rows}


def wait_for(predicate, what: str, proc: subprocess.Popen, log: Path, timeout_s: float = 2400) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert proc.poll() is None, f"the loop exited {proc.returncode} before {what}:\n{log.read_text()[-3000:]}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}:\n{log.read_text()[-3000:]}"
        time.sleep(0.5)


@pytest.mark.services
@pytest.mark.slow       # 3 cycles of two Spark hops, 2 JVMs: 15 to 25 minutes at load 30 to 45
@pytest.mark.timeout(3600)
def test_cycles_pick_up_appended_events_and_sigterm_stops_after_the_running_cycle(object_store, spark, tmp_path):
    cfg = fresh_bucket("medley-continuous-test")
    source = tmp_path / "generated"
    source.mkdir()
    generate_hours(source, "2026-11-06", hours=6, users=100)
    produced = tmp_path / "producer"
    produced.mkdir()
    halves = {}
    for stream in STREAMS:
        lines = (source / stream).read_text().splitlines(keepends=True)
        halves[stream] = (lines[:len(lines) // 2], lines[len(lines) // 2:])
        (produced / stream).write_text("".join(halves[stream][0]))

    out, steps = tmp_path / "loop.out", cfg.state_dir / "logs" / "continuous.log"
    steps.unlink(missing_ok=True)
    with out.open("w") as sink:
        loop = subprocess.Popen(
            [sys.executable, "-m", "medley", "run", "--every", "1s", "--input", str(produced), "--stop-after", "silver"],
            cwd=REPO_ROOT, env={**instance_env(), "MEDLEY_STORAGE__BUCKET": cfg.get("storage.bucket"),
                                "MEDLEY_NO_VENV": "1"},
            stdout=sink, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            # the producer writes the second half once the first cycle has landed (its offsets are
            # saved before the land step's line), so the second cycle is the one to land it
            wait_for(lambda: steps.exists() and "land: ok" in steps.read_text(), "the first landing", loop, out)
            for stream in STREAMS:
                with (produced / stream).open("a") as f:
                    f.write("".join(halves[stream][1]))
            wait_for(lambda: "cycle 2 " in out.read_text(), "the second cycle", loop, out)
            # SIGTERM while the third cycle runs: it must finish, and no fourth may start
            wait_for(lambda: steps.exists() and "=== cycle 3" in steps.read_text(), "the third cycle", loop, out)
            os.kill(loop.pid, signal.SIGTERM)
            assert loop.wait(timeout=2400) == 0, out.read_text()[-3000:]
        finally:
            if loop.poll() is None:
                os.killpg(loop.pid, signal.SIGKILL)
    text = out.read_text()
    cycle_lines = [line for line in text.splitlines() if line.startswith("cycle ")]
    first_half = sum(len(h[0]) for h in halves.values())
    second_half = sum(len(h[1]) for h in halves.values())
    assert [line.split()[1] for line in cycle_lines] == ["1", "2", "3"], text
    assert f"landed {first_half} lines" in cycle_lines[0]
    assert f"landed {second_half} lines" in cycle_lines[1]
    assert "landed 0 lines" in cycle_lines[2]
    assert "stopped after cycle 3 (SIGTERM)" in text

    # every generated line once in bronze, and silver took them all: nothing lost, nothing twice
    assert bronze_lines_by_stream(spark, cfg) == {s: len(h[0]) + len(h[1]) for s, h in halves.items() if h[0] or h[1]}
    from medley import hops

    for row in hops.reconciliation(spark, cfg):
        assert row["bronze"] == row["silver"] + row["quarantined"] + row["duplicates"], row
    assert lock.current(cfg)["holder"] is None
