"""Serving speed: the dashboards' five questions over 10M listens, Druid SQL next to DuckDB on the
same Parquet, p50 and p95 over repeated runs.

    ~/.cache/medley/venvs/pipeline/bin/python bench/bench_serving.py [--listens 10000000] [--runs 20]

Runs on its own instance (ports +23000, data under ~/.local/share/medley-bench-serving) with
MinIO, ZooKeeper and Druid only, so a running demo or test instance is never touched.

Data: DuckDB draws the listens in the served shape of gold.fact_listen over 30 days: songs weighted
by EventSim's own listen counts (medley/generator/reference/listen_counts.txt.gz), 12,000 users,
each with a place from the generator's us_places, a gender and a level. (The pipeline itself is
measured by bench_pipeline.py; producing 10M listens through it takes most of an hour.) The
Parquet files, one per day, go to MinIO and Druid ingests them with the pipeline's own specs
(druid_specs/fact_listen.json, druid_specs/active_users.json) through medley.druid.render_spec.
DuckDB (threads = cores) reads the same files from local disk.

Each query runs once to warm up, then --runs times. Druid's caches are off for every query
(useCache, populateCache, useResultLevelCache, populateResultLevelCache false), so each run is
computed, as for a new filter on a dashboard. Times are the client's wall clock of one HTTP
request (Druid) or one execute + fetch (DuckDB). Both answers are compared, so a fast but wrong
answer shows. Prints a table; asserts nothing (speed is a measurement, not a test).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from medley import REPO_ROOT  # noqa: E402

BENCH_HOME = Path(os.environ.get("MEDLEY_BENCH_HOME", "~/.local/share/medley-bench-serving")).expanduser()
PORT_OFFSET = 23000      # every port stays below 32768 (config.instance_env)
FIRST_DAY, DAYS = "2026-10-01", 30
USERS = 12_000   # below the theta sketches' 16,384: distinct counts from them are exact
GENERATOR_REFERENCE = REPO_ROOT / "medley" / "generator" / "reference"
STATE_CODES = REPO_ROOT / "spark" / "gold" / "reference" / "state_codes.csv.gz"
NO_CACHE = {"useCache": False, "populateCache": False,
            "useResultLevelCache": False, "populateResultLevelCache": False}

# The five dashboard questions: (name, Druid SQL, DuckDB SQL over the `listens` view). Druid's
# datasources are the pipeline's: fact_listen (one row per listen) and active_users (one row per
# day x state x level x gender with a theta sketch of the users).
WEEK = "TIMESTAMP '2026-10-05 00:00:00' AND TIMESTAMP '2026-10-12 00:00:00'"
DAY = "TIMESTAMP '2026-10-07 00:00:00' AND TIMESTAMP '2026-10-08 00:00:00'"
QUERIES = [
    ("top songs, one state and week",
     f"""SELECT song, artist, COUNT(*) AS listens FROM fact_listen
         WHERE state_code = 'CA' AND __time >= {WEEK.replace(' AND ', ' AND __time < ')}
         GROUP BY song, artist ORDER BY listens DESC, song, artist LIMIT 10""",
     f"""SELECT song, artist, COUNT(*) AS listens FROM listens
         WHERE state_code = 'CA' AND event_at >= {WEEK.replace(' AND ', ' AND event_at < ')}
         GROUP BY song, artist ORDER BY listens DESC, song, artist LIMIT 10"""),
    ("hourly listens, one day",
     f"""SELECT TIME_FLOOR(__time, 'PT1H') AS hour_start, COUNT(*) AS listens FROM fact_listen
         WHERE __time >= {DAY.replace(' AND ', ' AND __time < ')} GROUP BY 1 ORDER BY 1""",
     f"""SELECT date_trunc('hour', event_at) AS hour_start, COUNT(*) AS listens FROM listens
         WHERE event_at >= {DAY.replace(' AND ', ' AND event_at < ')} GROUP BY 1 ORDER BY 1"""),
    ("listens by state, 30 days",
     "SELECT state_code, COUNT(*) AS listens FROM fact_listen GROUP BY 1 ORDER BY 1",
     "SELECT state_code, COUNT(*) AS listens FROM listens GROUP BY 1 ORDER BY 1"),
    ("level x gender, 30 days",
     "SELECT level, gender, COUNT(*) AS listens FROM fact_listen GROUP BY 1, 2 ORDER BY 1, 2",
     "SELECT level, gender, COUNT(*) AS listens FROM listens GROUP BY 1, 2 ORDER BY 1, 2"),
    ("DAU over 30 days",
     """SELECT TIME_FLOOR(__time, 'P1D') AS day_start, THETA_SKETCH_ESTIMATE(DS_THETA(users)) AS dau
        FROM active_users GROUP BY 1 ORDER BY 1""",
     """SELECT CAST(date_trunc('day', event_at) AS TIMESTAMP) AS day_start, COUNT(DISTINCT user_id) AS dau
        FROM listens GROUP BY 1 ORDER BY 1"""),
]


def instance():
    """Configuration of the bench instance: every port of medley.yaml + PORT_OFFSET."""
    from medley import config

    env = {**config.instance_env(BENCH_HOME, PORT_OFFSET), "MEDLEY_STORAGE__BUCKET": "bench-serving"}
    os.environ.update(env)
    return config.load()


def draw_listens(con, listens: int, out: Path) -> None:
    """`listens` rows in fact_listen's served shape, one Parquet file per day under `out`."""
    ref = GENERATOR_REFERENCE
    con.execute(f"""
        CREATE TABLE songs AS
        SELECT artist, song, duration_s,
               SUM(weight) OVER (ORDER BY track_id ROWS UNBOUNDED PRECEDING) - weight AS weight_from
        FROM read_csv('{ref / "listen_counts.txt.gz"}', delim = '\t', header = false, quote = '',
                      columns = {{'track_id': 'VARCHAR', 'artist': 'VARCHAR', 'song': 'VARCHAR',
                                  'duration_s': 'DOUBLE', 'weight': 'BIGINT'}})""")
    total_weight = con.execute("SELECT MAX(weight_from) + 1 FROM songs").fetchone()[0]
    con.execute(f"""
        CREATE TABLE places AS
        SELECT ROW_NUMBER() OVER () - 1 AS place, p.city, p.state_code, s.state_name
        FROM read_csv('{ref / "us_places.tsv.gz"}', delim = '\t', header = false,
                      columns = {{'zip': 'VARCHAR', 'city': 'VARCHAR', 'state_code': 'VARCHAR',
                                  'lat': 'DOUBLE', 'lon': 'DOUBLE'}}) p
        LEFT JOIN read_csv('{STATE_CODES}') s USING (state_code)""")
    places = con.execute("SELECT COUNT(*) FROM places").fetchone()[0]
    con.execute("SELECT setseed(0.42)")
    con.execute(f"""
        CREATE TABLE users AS
        WITH draws AS (
            SELECT u AS user_id, CAST(floor(random() * {places}) AS BIGINT) AS place,
                   random() AS gender_draw, random() AS level_draw
            FROM range(1, {USERS + 1}) t(u))
        SELECT d.user_id, p.city, p.state_code, p.state_name,
               CASE WHEN d.gender_draw < 0.5 THEN 'M' ELSE 'F' END AS gender,
               CASE WHEN d.level_draw < 0.2 THEN 'paid' ELSE 'free' END AS level
        FROM draws d JOIN places p USING (place)""")
    # Listens: a random user, a random second of the 30 days, a song drawn by its listen weight
    # (ASOF: the song whose cumulative weight range holds the draw).
    con.execute(f"""
        CREATE TABLE listens_drawn AS
        WITH draws AS (
            SELECT i AS listen,
                   CAST(1 + floor(random() * {USERS}) AS BIGINT) AS user_id,
                   TIMESTAMP '{FIRST_DAY}' + to_seconds(CAST(floor(random() * {DAYS * 86400}) AS BIGINT)) AS event_at,
                   CAST(floor(random() * {total_weight}) AS BIGINT) AS draw
            FROM range({listens}) t(i))
        SELECT d.event_at, s.song, s.artist, u.state_code, u.state_name, u.city, u.level, u.gender,
               'Logged In' AS auth, d.user_id, d.user_id * 100 + day(d.event_at) AS session_id,
               s.duration_s, 'bench-' || d.listen AS event_key,
               CAST(d.event_at AS DATE) AS event_date
        FROM draws d
        ASOF JOIN songs s ON d.draw >= s.weight_from
        JOIN users u USING (user_id)""")
    out.parent.mkdir(parents=True, exist_ok=True)
    con.execute(f"COPY listens_drawn TO '{out}' (FORMAT parquet, PARTITION_BY (event_date), "
                f"WRITE_PARTITION_COLUMNS true)")
    con.execute("DROP TABLE listens_drawn")


def upload(cfg, out: Path) -> list[str]:
    """The Parquet files into the bench bucket; their s3:// URIs."""
    from medley import storage

    s3 = storage.client(cfg)
    bucket = storage.ensure_bucket(cfg)
    uris = []
    for path in sorted(out.rglob("*.parquet")):
        key = f"serving-bench/{path.relative_to(out)}"
        s3.fput_object(bucket, key, str(path))
        uris.append(f"s3://{bucket}/{key}")
    return uris


def ingest(cfg, uris: list[str]) -> dict[str, float]:
    """Both datasources from the same files with the pipeline's specs; seconds per datasource."""
    from medley import druid

    interval = [f"{FIRST_DAY}/2026-10-{DAYS + 1:02d}"]
    seconds = {}
    for name in ("fact_listen", "active_users"):
        began = time.monotonic()
        spec = druid.render_spec(cfg, druid.load_spec(name), uris, interval)
        druid.wait_for_task(cfg, druid.ingest(cfg, spec), name, timeout_s=3600)
        druid.wait_for_datasource(cfg, name, min_rows=1, timeout_s=1800)
        seconds[name] = time.monotonic() - began
    return seconds


def _druid_run(cfg, query: str) -> tuple[float, list[tuple]]:
    from medley import druid

    began = time.monotonic()
    resp = requests.post(f"{druid.url(cfg)}/druid/v2/sql", timeout=300,
                         json={"query": query, "resultFormat": "array", "context": NO_CACHE})
    elapsed = time.monotonic() - began
    if resp.status_code != 200:
        raise SystemExit(f"bench: Druid SQL failed (HTTP {resp.status_code}): {resp.text[:500]}\n{query}")
    return elapsed, [tuple(r) for r in resp.json()]


def _duck_run(con, query: str) -> tuple[float, list[tuple]]:
    began = time.monotonic()
    rows = con.execute(query).fetchall()
    return time.monotonic() - began, rows


def _normalised(rows: list[tuple]) -> list[tuple]:
    """Rows as comparable values: timestamps as ISO text without zone, counts as ints."""
    out = []
    for row in rows:
        vals = []
        for v in row:
            if hasattr(v, "isoformat"):
                v = v.isoformat()
            if isinstance(v, str) and v.endswith("Z"):
                v = v[:-1].replace(".000", "")
            if isinstance(v, float) and v.is_integer():
                v = int(v)
            vals.append(v)
        out.append(tuple(vals))
    return out


def measure(cfg, con, runs: int) -> list[dict]:
    rows = []
    for name, druid_sql, duck_sql in QUERIES:
        results = {}
        for engine, run, query in (("druid", lambda q: _druid_run(cfg, q), druid_sql),
                                   ("duckdb", lambda q: _duck_run(con, q), duck_sql)):
            _, answer = run(query)   # warm-up
            times = [run(query)[0] for _ in range(runs)]
            results[engine] = {"answer": _normalised(answer), "p50": statistics.median(times),
                               "p95": statistics.quantiles(times, n=20, method="inclusive")[18]}
        rows.append({"query": name, **{f"{e}_{k}": v[k] for e, v in results.items() for k in ("p50", "p95")},
                     "same": results["druid"]["answer"] == results["duckdb"]["answer"],
                     "druid_answer": results["druid"]["answer"][:3],
                     "duckdb_answer": results["duckdb"]["answer"][:3]})
        print(f"  {name}: done", flush=True)
    return rows


def report(rows: list[dict], listens: int, runs: int, load: dict[str, float], cores: int) -> None:
    from medley.console import table

    ms = lambda s: f"{s * 1000:,.0f}"  # noqa: E731
    print(f"\n{listens:,} listens over {DAYS} days, {USERS:,} users; {runs} runs per query after one "
          f"warm-up; Druid caches off; DuckDB threads = {cores}")
    print("Druid ingestion: " + ", ".join(f"{k} {v:,.0f} s" for k, v in load.items()))
    print(table(["query", "Druid p50 ms", "Druid p95 ms", "DuckDB p50 ms", "DuckDB p95 ms",
                 "DuckDB/Druid p50", "same answer"],
                [(r["query"], ms(r["druid_p50"]), ms(r["druid_p95"]), ms(r["duckdb_p50"]),
                  ms(r["duckdb_p95"]), f"{r['duckdb_p50'] / r['druid_p50']:.1f}x",
                  "yes" if r["same"] else "NO") for r in rows]))
    for r in rows:
        if not r["same"]:
            print(f"  {r['query']}: Druid {r['druid_answer']} ... vs DuckDB {r['duckdb_answer']} ...")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--listens", type=int, default=10_000_000)
    p.add_argument("--runs", type=int, default=20, help="timed runs per query and engine (after one warm-up)")
    p.add_argument("--dir", type=Path, default=None, help="scratch directory (default: system temp)")
    a = p.parse_args()

    import duckdb

    from medley import services

    shutil.rmtree(BENCH_HOME, ignore_errors=True)
    cfg = instance()
    cores = os.cpu_count() or 1
    services.up(cfg, only=["minio", "zookeeper", "druid"], quiet=True)
    try:
        with tempfile.TemporaryDirectory(dir=a.dir) as tmp:
            out = Path(tmp) / "fact_listen"
            con = duckdb.connect()
            con.execute(f"SET threads = {cores}")
            print(f"drawing {a.listens:,} listens ...", flush=True)
            draw_listens(con, a.listens, out)
            con.execute(f"CREATE VIEW listens AS SELECT * FROM read_parquet('{out}/*/*.parquet')")
            print("loading them into Druid ...", flush=True)
            load = ingest(cfg, upload(cfg, out))
            print("querying ...", flush=True)
            rows = measure(cfg, con, a.runs)
    finally:
        services.down(cfg, only=["minio", "zookeeper", "druid"])
    report(rows, a.listens, a.runs, load, cores)


if __name__ == "__main__":
    main()
