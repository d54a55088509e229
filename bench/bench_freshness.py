"""Freshness: how long after an event happens it can be queried in Druid, with the pipeline running
as `medley run --every 2m` beside the generator.

    ~/.cache/medley/venvs/pipeline/bin/python bench/bench_freshness.py [--cycles 10] [--every 2m] [--users 20000]

Runs on its own instance (ports +22000, data under ~/.local/share/medley-bench-fresh, bucket
bench-freshness, emptied first) with MinIO, ZooKeeper and Druid only, so a running demo or test
instance is never touched.

- The generator (`medley generate --continuous --out DIR`, from now on) writes each event when the
  wall clock reaches its `ts` and flushes its files then, as a producer does.
- `medley run --every ... --input DIR --cycles N` (a subprocess, exactly as an operator starts it)
  lands what the files gained each cycle and runs bronze -> silver -> gold -> druid.
- Every 5 s this script reads the page_view_events file (every generated event is a page view)
  and asks Druid SQL how many fact_page_view rows each event millisecond has. The events of a
  millisecond are visible once Druid counts as many rows at that `__time` as were written.

Latency is measured from event time (`ts`), not from write time: with --continuous the generator
writes an event when the clock reaches its ts, so the two differ by the generator's flush (the
"seen in file" column shows how late the file had it, at this script's 5 s resolution), and event
time is what a dashboard user compares with the clock. Events are counted when they were written
before the last cycle landed (the later ones wait for a cycle that never comes). Prints tables;
asserts nothing (speed is a measurement, not a test).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from medley import REPO_ROOT  # noqa: E402

BENCH_HOME = Path(os.environ.get("MEDLEY_BENCH_HOME", "~/.local/share/medley-bench-fresh")).expanduser()
PORT_OFFSET = 22000      # every port stays below 32768 (config.instance_env)
BUCKET = "bench-freshness"
POLL_S = 5.0
SERVICES = ["minio", "zookeeper", "druid"]


def instance_env() -> dict[str, str]:
    from medley import config

    env = {**config.instance_env(BENCH_HOME, PORT_OFFSET), "MEDLEY_STORAGE__BUCKET": BUCKET,
           "MEDLEY_CONFIG": str(REPO_ROOT / "medley.yaml")}
    return {**os.environ, **env, "MEDLEY_NO_VENV": "1", "PYTHONPATH": str(REPO_ROOT)}


def empty_bucket(cfg) -> None:
    from minio.deleteobjects import DeleteObject

    from medley import storage

    s3 = storage.client(cfg)
    if s3.bucket_exists(BUCKET):
        doomed = [DeleteObject(o.object_name) for o in s3.list_objects(BUCKET, recursive=True)]
        errors = list(s3.remove_objects(BUCKET, doomed))
        if errors:
            raise SystemExit(f"could not empty bucket {BUCKET}: {errors[0]}")
    storage.ensure_bucket(cfg)


def drop_datasources(cfg) -> None:
    """Druid keeps serving what an earlier bench run loaded: mark every datasource unused first."""
    import requests

    from medley import druid

    base = druid.url(cfg)
    for name in requests.get(f"{base}/druid/coordinator/v1/datasources", timeout=30).json():
        requests.delete(f"{base}/druid/coordinator/v1/datasources/{name}", timeout=30).raise_for_status()
    deadline = time.monotonic() + 300
    while druid.sql(cfg, "SELECT TABLE_NAME FROM INFORMATION_SCHEMA.TABLES WHERE TABLE_SCHEMA = 'druid'"):
        if time.monotonic() > deadline:
            raise SystemExit("Druid still serves datasources 5 minutes after they were dropped")
        time.sleep(5)


class Watcher:
    """Polls the generator's page view file and Druid; remembers, per event millisecond, when it
    was first seen in the file and when Druid first counted all its rows."""

    def __init__(self, cfg, page_views: Path, since_ms: int):
        self.cfg, self.page_views, self.since_ms = cfg, page_views, since_ms
        self.written: Counter[int] = Counter()
        self.seen_in_file: dict[int, float] = {}
        self.visible: dict[int, float] = {}
        self.offset = 0
        self.stop = threading.Event()
        self.errors = 0

    def read_file(self, now: float) -> None:
        if not self.page_views.exists():
            return
        with self.page_views.open("rb") as f:
            f.seek(self.offset)
            chunk = f.read()
        complete = chunk[:chunk.rfind(b"\n") + 1]
        self.offset += len(complete)
        for line in complete.splitlines():
            ts = int(json.loads(line)["ts"])
            self.written[ts] += 1
            self.seen_in_file.setdefault(ts, now)

    def read_druid(self, now: float) -> None:
        from medley import druid

        pending = [ts for ts in self.written if ts not in self.visible]
        if not pending:
            return
        start = datetime.fromtimestamp(min(pending) / 1000, timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
        try:
            rows = druid.sql(self.cfg, "SELECT TIMESTAMP_TO_MILLIS(__time) AS ts, COUNT(*) AS n FROM fact_page_view "
                                       f"WHERE __time >= TIMESTAMP '{start}' GROUP BY 1")
        except Exception:  # noqa: BLE001 - before the first cycle the datasource does not exist
            self.errors += 1
            return
        counted = {r["ts"]: r["n"] for r in rows}
        for ts in pending:
            if counted.get(ts, 0) >= self.written[ts]:
                self.visible[ts] = now

    def poll_until_stopped(self) -> None:
        while not self.stop.wait(POLL_S):
            now = time.time()
            self.read_file(now)
            self.read_druid(now)


def cycle_start(line: str, day: datetime) -> float:
    """Epoch seconds of a cycle's start, from its line: `cycle 3 12:04:05Z: landed ...`."""
    clock = datetime.strptime(line.split()[2].rstrip(":").rstrip("Z"), "%H:%M:%S").time()
    started = datetime.combine(day.date(), clock, tzinfo=timezone.utc)
    return started.timestamp() + (86400 if started < day else 0)


def latency_row(watcher: Watcher, until: float, since: float = 0.0) -> tuple:
    """Over the events written in [since, until) (until: a cycle's start, so that cycle landed
    them; later ones wait for a cycle that has not come): how many, how many Druid showed,
    latency p50/p90/max, and how late the file had them."""
    counted = [ts for ts in list(watcher.written) if since <= ts / 1000 < until]
    latencies = [watcher.visible[ts] - ts / 1000 for ts in counted if ts in watcher.visible]
    file_lag = [watcher.seen_in_file[ts] - ts / 1000 for ts in counted]
    events = sum(watcher.written[ts] for ts in counted)
    unseen = sum(watcher.written[ts] for ts in counted if ts not in watcher.visible)
    figure = lambda f: f"{f:.0f}" if latencies else "-"  # noqa: E731
    return (events, events - unseen, unseen,
            figure(statistics.median(latencies) if latencies else 0),
            figure(percentile(latencies, 0.9) if latencies else 0),
            figure(max(latencies, default=0)),
            f"{statistics.median(file_lag):.0f}" if file_lag else "-")


def summary(watcher: Watcher, until: float, since: float = 0.0) -> str:
    events, visible, _unseen, p50, p90, worst, _lag = latency_row(watcher, until, since)
    return f"{visible} of {events} events visible, latency p50 {p50}s p90 {p90}s max {worst}s"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def table(headers, rows) -> str:
    from medley.console import table as draw

    return draw(headers, rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cycles", type=int, default=10)
    parser.add_argument("--every", default="2m")
    parser.add_argument("--users", type=int, default=20000)
    args = parser.parse_args()

    env = instance_env()
    os.environ.update(env)
    from medley import config, services

    cfg = config.load(env)
    services.up(cfg, only=SERVICES, quiet=True)
    empty_bucket(cfg)
    drop_datasources(cfg)
    shutil.rmtree(cfg.state_dir / "continuous", ignore_errors=True)
    out = BENCH_HOME / "generator-out"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)

    python = sys.executable
    start = datetime.now(timezone.utc).replace(microsecond=0)
    since_ms = int(start.timestamp() * 1000)
    load_before = os.getloadavg()
    generator = subprocess.Popen(
        [python, "-m", "medley", "generate", "--continuous", "--start-time", start.isoformat(),
         "--nusers", str(args.users), "--randomseed", "11", "--out", str(out)],
        env=env, cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
        start_new_session=True)     # its group: stopping it stops the simulator it runs too
    watcher = Watcher(cfg, out / "page_view_events", since_ms)
    poller = threading.Thread(target=watcher.poll_until_stopped, daemon=True)
    poller.start()
    cycles: list[str] = []
    loop = subprocess.Popen(
        [python, "-m", "medley", "run", "--every", args.every, "--input", str(out), "--cycles", str(args.cycles)],
        env=env, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for line in loop.stdout:
        print(line, end="", flush=True)
        if line.startswith("cycle ") and " landed " in line:
            cycles.append(line.strip())
            if len(cycles) > 1:     # the events the cycle before this one landed, and all so far
                until = cycle_start(cycles[-2], start)
                since = cycle_start(cycles[-3], start) if len(cycles) > 2 else 0.0
                print(f"   landed by cycle {len(cycles) - 1}: {summary(watcher, until, since)}; "
                      f"so far: {summary(watcher, until)}", flush=True)
    code = loop.wait()
    time.sleep(2 * POLL_S)      # a last look at Druid after the last cycle
    watcher.stop.set()
    poller.join()
    os.killpg(generator.pid, signal.SIGTERM)
    generator.wait()
    load_after = os.getloadavg()

    last_start = cycle_start(cycles[-1], start) if cycles else 0.0
    print()
    print(f"medley run --every {args.every}: exit {code}, {len(cycles)} cycles, generator {args.users} users; "
          f"load average {load_before[0]:.1f} before, {load_after[0]:.1f} after, {os.cpu_count()} cores")
    print()
    headers = ["events (page views)", "visible in Druid", "never seen", "p50 s", "p90 s", "max s",
               "seen in file p50 s (5 s polls)"]
    print(table(headers, [latency_row(watcher, last_start)]))
    print()
    # per cycle: the events it landed (written between the previous cycle's start and its own), so
    # the first cycle's start-up does not hide what a cycle in the steady state gives
    starts = [0.0] + [cycle_start(line, start) for line in cycles]
    print(table(["landed by cycle", *headers],
                [(n, *latency_row(watcher, starts[n], starts[n - 1])) for n in range(1, len(cycles) + 1)]))
    print()
    print("latency = first 5 s poll at which Druid counted all rows of the event's millisecond - event ts")
    services.down(cfg, only=SERVICES)


if __name__ == "__main__":
    main()
