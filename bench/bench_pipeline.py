"""Pipeline speed: events/s from landing to gold, next to DuckDB doing the core of the same work,
and the cost of one incremental hour after 1 day vs 30 days of history.

    ~/.cache/medley/venvs/pipeline/bin/python bench/bench_pipeline.py [--events 1000000 10000000]
        [--history-days 1 30] [--history-users 3000] [--hours 1] [--keep]

Runs on its own instance (ports +20000, data under ~/.local/share/medley-bench, one bucket per
scenario) against a real MinIO, so a running demo or test instance is never touched. Throughput:
the generator writes one day of viirya stream files (users scaled to the wanted number of lines);
Medley lands them in MinIO and runs bronze -> silver -> gold with every gate; DuckDB (threads =
Spark's cores) reads the same files, types and de-duplicates all four streams on the event key,
and aggregates listens by hour x song x artist x state. Both results are compared, so a fast but
wrong run shows. The peak resident memory of the local stack (this process, the Spark JVM, MinIO)
during Medley's run is sampled every second. Incremental: after the history has gone through, one more hour is generated,
landed and run, and that run's steps are timed (wall seconds, and the CPU seconds of the Python
process and its Spark JVM, the figure to compare on a loaded machine). `--hours N` runs N new
hours one after the other; `--keep` keeps the instance's data and reuses a history built by an
earlier `--keep` run (each run then adds the next hours), so a change can be measured against the
same history without building it again.

Prints a table; asserts nothing (speed is a measurement, not a test).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._generate import options  # noqa: E402

BENCH_HOME = Path(os.environ.get("MEDLEY_BENCH_HOME", "~/.local/share/medley-bench")).expanduser()
BENCH_ENV = {
    "MEDLEY_PATHS__DATA_DIR": str(BENCH_HOME / "data"),
    "MEDLEY_PATHS__STATE_DIR": str(BENCH_HOME / "state"),
    "MEDLEY_STORAGE__ENDPOINT": "http://127.0.0.1:29000",
    "MEDLEY_SERVICES__MINIO__PORT": "29000",
    "MEDLEY_SERVICES__MINIO__CONSOLE_PORT": "29001",
}
DAY, NEXT_DAY = "2026-11-01", "2026-11-02T00:00:00"   # the throughput day
HOUR_AFTER_HISTORY = "2026-10-31T00:00:00"
STREAMS = ("listen_events", "page_view_events", "auth_events", "status_change_events")
# the columns DuckDB types per stream: what silver types for the aggregate and the event key
COLUMNS = {
    "listen_events": {"ts": "BIGINT", "userId": "BIGINT", "sessionId": "BIGINT", "itemInSession": "BIGINT",
                      "artist": "VARCHAR", "song": "VARCHAR", "duration": "DOUBLE", "state": "VARCHAR",
                      "level": "VARCHAR", "gender": "VARCHAR", "city": "VARCHAR", "zip": "VARCHAR"},
    "page_view_events": {"ts": "BIGINT", "userId": "BIGINT", "sessionId": "BIGINT",
                         "itemInSession": "BIGINT", "page": "VARCHAR", "method": "VARCHAR", "status": "INTEGER",
                         "level": "VARCHAR", "auth": "VARCHAR", "state": "VARCHAR", "artist": "VARCHAR",
                         "song": "VARCHAR", "duration": "DOUBLE"},
    "auth_events": {"ts": "BIGINT", "userId": "BIGINT", "sessionId": "BIGINT", "itemInSession": "BIGINT",
                    "level": "VARCHAR", "success": "BOOLEAN", "state": "VARCHAR"},
    "status_change_events": {"ts": "BIGINT", "userId": "BIGINT", "sessionId": "BIGINT",
                             "itemInSession": "BIGINT", "level": "VARCHAR", "state": "VARCHAR"},
}


def instance(bucket: str):
    """Configuration of the bench instance writing to `bucket`."""
    from medley import config

    os.environ.update({**BENCH_ENV, "MEDLEY_STORAGE__BUCKET": bucket})
    return config.load()


def generate(cfg, users: int, start: str, end: str, out: Path, seed: int = 1) -> int:
    """Stream files for the window into `out`; returns the number of lines written."""
    from medley.generator import engine

    summary = engine.to_files(cfg, options(users, start, end, seed), out)
    return sum(summary["lines"].values())


class PeakRss:
    """Peak resident memory of the local stack while a run lasts, sampled every second: this
    process, every process it started (the Spark JVM) and the instance's services (MinIO)."""

    def __init__(self, cfg):
        self.pidfiles = list((cfg.state_dir / "run").glob("*.pid"))
        self.peak, self._stop = 0, threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        while True:
            self.peak = max(self.peak, self.now())
            if self._stop.wait(1.0):
                return

    def now(self) -> int:
        """Bytes resident now in this process tree and the services."""
        roots = {os.getpid()} | {int(f.read_text()) for f in self.pidfiles if f.exists()}
        parents: dict[int, int] = {}
        rss: dict[int, int] = {}
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                pid = int(stat.parent.name)
                parents[pid] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
                rss[pid] = int((stat.parent / "statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
            except (OSError, IndexError, ValueError):
                continue
        ours = set(roots)
        grew = True
        while grew:     # add children until none is left out
            more = {pid for pid, parent in parents.items() if parent in ours} - ours
            ours |= more
            grew = bool(more)
        return sum(rss.get(pid, 0) for pid in ours)


def medley_run(cfg, input_dir: Path, cpu: dict | None = None) -> dict[str, float]:
    """land -> bronze -> silver -> gold with gates; seconds per step (CPU seconds per step into `cpu`)."""
    from medley import pipeline

    report = pipeline.run(cfg, input_dir, stop_after="gold")
    broken = [r for r in report.reconciliation if not (r["bronze_ok"] and r["gold_ok"])]
    if broken:
        raise SystemExit(f"bench: counts do not reconcile: {broken}")
    if cpu is not None:
        cpu.update(report.cpu)
    steps: dict[str, float] = {}
    for name, seconds, _ in report.steps:
        steps[name] = steps.get(name, 0.0) + seconds
    return steps


def medley_listens(spark, cfg) -> dict:
    from pyspark.sql import functions as F

    from medley import storage
    from medley.delta import read

    hourly = read(spark, storage.table_uri(cfg, "gold.agg_listens_hourly"))
    groups = hourly.groupBy("event_hour", "song", "artist", "state_code").agg(
        F.sum("listen_count").alias("n"), F.sum("listen_seconds").alias("s"))
    row = groups.agg(F.count(F.lit(1)).alias("groups"), F.sum("n").alias("listens"),
                     F.sum("s").alias("seconds")).first()
    return {"groups": row["groups"], "listens": row["listens"], "seconds": round(row["seconds"], 1)}


def duckdb_run(input_dir: Path, threads: int) -> tuple[float, dict]:
    """Parse, type and de-duplicate the four streams, aggregate listens: seconds and the result."""
    import duckdb

    began = time.monotonic()
    con = duckdb.connect()
    con.execute(f"SET threads = {threads}")
    for stream in STREAMS:
        files = sorted(str(p) for p in input_dir.glob(f"*{stream}*"))
        columns = "{" + ", ".join(f"'{k}': '{v}'" for k, v in COLUMNS[stream].items()) + "}"
        con.execute(f"""
            CREATE TABLE {stream} AS
            SELECT DISTINCT ON (ts, sessionId, itemInSession, userId)
                   *, make_timestamp(ts * 1000) AS event_at
            FROM read_json({files!r}, format = 'newline_delimited', columns = {columns})""")
    con.execute("""
        CREATE TABLE listens_hourly AS
        SELECT date_trunc('hour', event_at) AS event_hour, song, artist, state,
               count(*) AS n, sum(duration) AS s
        FROM listen_events GROUP BY ALL""")
    seconds = time.monotonic() - began
    groups, listens, total = con.execute("SELECT count(*), sum(n), sum(s) FROM listens_hourly").fetchone()
    return seconds, {"groups": groups, "listens": listens, "seconds": round(total, 1)}


def throughput(target: int, scratch: Path, probe_users: int = 20_000) -> dict:
    from medley.spark import session

    cfg = instance(f"bench-{target}")
    probe = generate(cfg, probe_users, f"{DAY}T00:00:00", NEXT_DAY, scratch / "probe")
    shutil.rmtree(scratch / "probe")
    users = max(1, round(target * probe_users / probe))
    out = scratch / f"events-{target}"
    lines = generate(cfg, users, f"{DAY}T00:00:00", NEXT_DAY, out)
    print(f"  {lines:,} lines from {users:,} users; Medley "
          f"(spark.driver_memory {cfg.get('spark.driver_memory')}) ...", flush=True)
    with PeakRss(cfg) as memory:
        steps = medley_run(cfg, out)
    medley_result = medley_listens(session(cfg), cfg)
    print("  DuckDB ...", flush=True)
    duck_seconds, duck_result = duckdb_run(out, threads=_cores(cfg))
    shutil.rmtree(out)
    return {"lines": lines, "users": users, "steps": steps, "duckdb": duck_seconds, "peak_rss": memory.peak,
            "same": medley_result == duck_result, "medley_result": medley_result, "duck_result": duck_result}


def incremental(history_days: int, users: int, scratch: Path, hours: int = 1) -> list[dict]:
    """The history (or the one an earlier --keep run built), then `hours` new hours, each run alone."""
    import json

    cfg = instance(f"bench-history-{history_days}")
    kept = BENCH_HOME / f"history-{history_days}.json"    # what this bucket holds: lines, hours added
    done = json.loads(kept.read_text()) if kept.exists() else None
    hour = datetime.fromisoformat(HOUR_AFTER_HISTORY)
    if done is None or done["users"] != users:
        start = hour - timedelta(days=history_days)
        history = generate(cfg, users, start.isoformat(), hour.isoformat(), scratch / "history")
        print(f"  history: {history:,} lines over {history_days} days ...", flush=True)
        medley_run(cfg, scratch / "history")
        shutil.rmtree(scratch / "history")
        done = {"users": users, "history_lines": history, "hours": 0}
    out = []
    for _ in range(hours):
        start = hour + timedelta(hours=done["hours"])
        new = generate(cfg, users, start.isoformat(), (start + timedelta(hours=1)).isoformat(), scratch / "hour",
                       seed=2 + done["hours"])
        cpu: dict[str, float] = {}
        steps = medley_run(cfg, scratch / "hour", cpu)
        shutil.rmtree(scratch / "hour")
        done["hours"] += 1
        kept.write_text(json.dumps(done))
        out.append({"history_lines": done["history_lines"], "hour": start.isoformat(), "hour_lines": new,
                    "steps": steps, "cpu": cpu})
        print(f"  hour {start:%Y-%m-%d %H}:00, {new} lines: {sum(steps.values()):.1f} s, "
              f"{sum(cpu.values()):.1f} CPU s; " + ", ".join(
                  f"{k} {v:.1f} s ({cpu.get(k, 0):.1f})" for k, v in steps.items()), flush=True)
    return out


def _cores(cfg) -> int:
    master = cfg.get("spark.master") or "local[*]"
    inside = master[master.find("[") + 1:master.find("]")]
    return os.cpu_count() if inside == "*" else int(inside)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--events", type=int, nargs="*", default=[1_000_000, 10_000_000],
                   help="landed lines per throughput run (default 1M and 10M)")
    p.add_argument("--history-days", type=int, nargs="*", default=[1, 30])
    p.add_argument("--history-users", type=int, default=3000)
    p.add_argument("--hours", type=int, default=1, help="new hours run one after the other after each history")
    p.add_argument("--keep", action="store_true",
                   help="keep the instance's data, and reuse the history an earlier --keep run built")
    p.add_argument("--dir", type=Path, default=None, help="scratch directory (default: system temp)")
    a = p.parse_args()

    from medley import services

    if not a.keep:
        shutil.rmtree(BENCH_HOME, ignore_errors=True)
    for target in a.events:   # a throughput run starts from an empty bucket, with --keep too
        for path in (f"bench-{target}", f".minio.sys/buckets/bench-{target}"):
            shutil.rmtree(BENCH_HOME / "data" / "minio" / path, ignore_errors=True)
    cfg = instance("bench")
    services.up(cfg, only=["minio"], quiet=True)
    try:
        with tempfile.TemporaryDirectory(dir=a.dir) as tmp:
            rows = []
            for target in a.events:
                print(f"throughput, ~{target:,} lines:", flush=True)
                rows.append(throughput(target, Path(tmp)))
            increments = []
            for days in a.history_days:
                print(f"incremental hour after {days} days:", flush=True)
                increments += [(days, r) for r in incremental(days, a.history_users, Path(tmp), a.hours)]
    finally:
        services.down(cfg, only=["minio"])
    report(rows, increments, _cores(cfg))


STEP_COLUMNS = ("land", "bronze", "silver", "gold", "gates", "reconcile")


def _by_column(steps: dict[str, float]) -> dict[str, float]:
    """Step seconds grouped for the table: the jobs, all gates together, and the total."""
    out = {c: 0.0 for c in STEP_COLUMNS}
    for name, seconds in steps.items():
        column = "gates" if name.endswith(("gate", "gates")) else name
        if column in out:
            out[column] += seconds
    out["total"] = sum(steps.values())
    return out


def report(rows: list[dict], increments: list[tuple[int, dict]], cores: int) -> None:
    secs = " | ".join(f"{c} s" for c in (*STEP_COLUMNS, "total"))
    print(f"\nlanding -> gold on {cores} cores (Spark local[{cores}], DuckDB threads={cores})")
    print(f"lines | {secs} | lines/s | DuckDB s | DuckDB lines/s | Medley/DuckDB time | same result"
          " | Medley peak RSS GB (Python, Spark JVM, MinIO)")
    for r in rows:
        c = _by_column(r["steps"])
        same = "yes" if r["same"] else f"NO: {r['medley_result']} vs {r['duck_result']}"
        print(" | ".join([f"{r['lines']:,}", *(f"{v:.0f}" for v in c.values()), f"{r['lines'] / c['total']:,.0f}",
                          f"{r['duckdb']:.1f}", f"{r['lines'] / r['duckdb']:,.0f}",
                          f"{c['total'] / r['duckdb']:.0f}x", same, f"{r['peak_rss'] / 2**30:.1f}"]))
    if increments:
        print("\none new hour after a history: wall seconds (CPU seconds of Python + the Spark JVM)")
        print(f"history days | history lines | hour | hour lines | {secs}")
        for days, r in increments:
            c, cpu = _by_column(r["steps"]), _by_column(r["cpu"])
            print(" | ".join([str(days), f"{r['history_lines']:,}", r["hour"][:13], f"{r['hour_lines']:,}",
                              *(f"{v:.0f} ({cpu[k]:.0f})" for k, v in c.items())]))


if __name__ == "__main__":
    main()
