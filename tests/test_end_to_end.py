"""The whole pipeline on real services: generated EventSim data of both dialects plus the broken
lines of tests/corpus.py -> landing in MinIO -> bronze -> silver -> gold (Delta, gated by Great
Expectations) -> Druid -> Superset. Druid's answers are compared with counts and sums computed
here, independently, from the input files."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from corpus import BAD_LINES
from medley import druid, health, land, pipeline, storage, superset
from medley.contracts import all_contracts, contract
from medley.quality import generated_expectations, hand_written
from medley.cli import main as cli_main

pytestmark = [pytest.mark.services, pytest.mark.timeout(2400)]
# Yesterday (UTC): the dashboards' relative date ranges (e.g. "the last 7 days") include it, so the
# browser check below sees this run's data in every chart.
DAY = datetime.now(timezone.utc).date() - timedelta(days=1)
WINDOW = ["--start-time", f"{DAY}T00:00:00", "--end-time", f"{DAY + timedelta(days=1)}T00:00:00"]


def generate(out: Path) -> Path:
    assert cli_main(["generate", "--dialect", "viirya", *WINDOW, "--nusers", "300", "--randomseed", "11",
                     "--out", str(out)], {}) == 0
    interana = out / "interana"
    assert cli_main(["generate", "--dialect", "interana", *WINDOW, "--nusers", "150", "--randomseed", "12",
                     "--userid", "500000", "--out", str(interana)], {}) == 0
    (interana / "interana_events").rename(out / "interana_events")
    interana.rmdir()
    by_stream: dict[str, list[str]] = {}
    for stream, line, _ in BAD_LINES:
        by_stream.setdefault(stream, []).append(line)
    for stream, lines in by_stream.items():
        (out / f"broken_{stream}").write_text("\n".join(lines) + "\n")
    return out


def expected_listens(inputs: Path) -> tuple[Counter, Counter]:
    """Listens and listened seconds per state, straight from the generated files."""
    count, seconds = Counter(), Counter()
    for line in (inputs / "listen_events").read_text().splitlines():
        e = json.loads(line)
        count[e["state"]] += 1
        seconds[e["state"]] += e["duration"]
    for line in (inputs / "interana_events").read_text().splitlines():
        e = json.loads(line)
        if e["page"] == "NextSong":
            state = e["location"].split(", ")[1][:2]
            count[state] += 1
            seconds[state] += e["length"]
    return count, seconds


def reset(cfg) -> None:
    """Start from an empty lakehouse and no Druid datasources: the assertions are exact."""
    import requests
    from minio.deleteobjects import DeleteObject

    from medley import storage

    s3, bucket = storage.client(cfg), cfg.get("storage.bucket")
    doomed = [DeleteObject(o.object_name) for o in s3.list_objects(bucket, recursive=True)]
    assert not [e for e in s3.remove_objects(bucket, doomed)]
    for name in druid.sql(cfg, "SELECT DISTINCT datasource AS d FROM sys.segments"):
        requests.delete(f"{druid.url(cfg)}/druid/coordinator/v1/datasources/{name['d']}", timeout=30)


@pytest.fixture(scope="module")
def first_run(live_cfg, tmp_path_factory):
    reset(live_cfg)
    inputs = generate(tmp_path_factory.mktemp("e2e-input"))
    return inputs, pipeline.run(live_cfg, inputs)


def input_lines(inputs: Path) -> Counter:
    """Non-blank lines per landing stream, counted in the input files themselves."""
    lines = Counter()
    for path in inputs.iterdir():
        lines[land.stream_of(path)] += sum(1 for line in path.read_text().splitlines() if line.strip())
    return lines


def test_bronze_holds_every_input_line(first_run):
    inputs, report = first_run
    expected = input_lines(inputs)
    assert {r["stream"]: r["bronze"] for r in report.reconciliation} == {
        "listen_events": expected["listen_events"], "auth_events": expected["auth_events"],
        "status_change_events": expected["status_change_events"],
        "page_view_events+interana_events": expected["page_view_events"] + expected["interana_events"]}


def test_every_layer_reconciles(first_run):
    _, report = first_run
    assert {r["stream"] for r in report.reconciliation} == {
        "listen_events", "page_view_events+interana_events", "auth_events", "status_change_events"}
    for row in report.reconciliation:
        assert row["bronze"] == row["silver"] + row["quarantined"] + row["duplicates"], row
        assert row["gold"] == row["silver_total"], row
    # a day of 300 users may hold no subscription change; listens and page views it always holds
    assert all(r["silver"] > 0 for r in report.reconciliation if r["stream"].startswith(("listen", "page")))


def checked(expectation: dict) -> tuple:
    """What an expectation checks: its type and the column(s) it reads (GE keeps one expectation per
    type and columns in a suite: a hand-written one refines the generated one, e.g. a range)."""
    kw = expectation["kwargs"]
    columns = kw.get("column") or kw.get("column_list") or [kw.get("column_A"), kw.get("column_B")]
    return expectation["type"], json.dumps(columns)


def test_every_table_was_gated_by_its_whole_suite(first_run, live_cfg, spark):
    """Each table written got its gate; the result saved in the object store passed and ran every
    generated check (or the hand-written one refining it) and every hand-written one as written."""
    from delta.tables import DeltaTable

    _, report = first_run
    written = {c.table for c in all_contracts() if DeltaTable.isDeltaTable(spark, storage.table_uri(live_cfg, c.table))}
    assert {g.table for g in report.gates} == written and len(report.gates) == len(written)
    s3 = storage.client(live_cfg)
    for gate in report.gates:
        c = contract(gate.table)
        bucket, key = gate.result_uri.removeprefix("s3://").split("/", 1)
        saved = json.loads(s3.get_object(bucket, key).read())
        assert saved["success"] is True, (gate.table, saved["statistics"])
        assert saved["statistics"]["evaluated_expectations"] == gate.evaluated == len(saved["results"])
        ran = [r["expectation_config"] for r in saved["results"]]
        flags = tuple(f"_resolves_{col.name}" for col in c.columns if col.references)   # gold's FK checks
        suite = generated_expectations(c, flags) + hand_written(c)
        assert {checked(e) for e in suite} <= {checked(e) for e in ran}, c.table
        for e in hand_written(c):
            assert any(r["type"] == e["type"] and e["kwargs"].items() <= r["kwargs"].items() for r in ran), (c.table, e)


def test_the_data_docs_site_has_a_page_for_every_gate(first_run, live_cfg):
    """Each hop publishes the Data Docs of its gates once, after them: the site's index and, per
    gate, its validation page and its suite's page."""
    _, report = first_run
    prefix = f"{live_cfg.get('storage.quality_prefix')}/data_docs"
    keys = storage.list_keys(live_cfg, prefix)
    assert f"{prefix}/index.html" in keys
    for gate in report.gates:
        c = contract(gate.table)
        assert f"{prefix}/expectations/{c.layer}/{c.name}.html" in keys, gate.table
        assert any(k.startswith(f"{prefix}/validations/{c.layer}/{c.name}/") and k.endswith(".html")
                   for k in keys), gate.table


def test_broken_lines_are_quarantined_with_their_reason(first_run, live_cfg, spark):
    from medley import storage

    quarantine = spark.read.format("delta").load(storage.table_uri(live_cfg, "silver.quarantine"))
    reasons = {r.raw_record: r.reason for r in quarantine.collect()}
    for stream, line, reason in BAD_LINES:
        assert reasons.get(line) == reason, (stream, line)


def test_druid_answers_what_the_input_files_say(first_run, live_cfg):
    inputs, _ = first_run
    count, seconds = expected_listens(inputs)
    total = druid.sql(live_cfg, 'SELECT SUM(listen_count) AS n, SUM(listen_seconds) AS s FROM "agg_listens_hourly"')[0]
    assert total["n"] == sum(count.values())
    assert total["s"] == pytest.approx(sum(seconds.values()), rel=1e-6)
    by_state = druid.sql(live_cfg, 'SELECT state_code, SUM(listen_count) AS n FROM "agg_listens_hourly" '
                                   "GROUP BY state_code")
    assert {r["state_code"]: r["n"] for r in by_state} == dict(count)
    facts = druid.sql(live_cfg, 'SELECT COUNT(*) AS n FROM "fact_listen"')[0]["n"]
    assert facts == sum(count.values())


def test_superset_chart_shows_druids_numbers(first_run, live_cfg):
    inputs, _ = first_run
    count, _ = expected_listens(inputs)
    rows = superset.chart_data(live_cfg, "Listens by state")
    shown = {r["state_code"]: r["listens"] for r in rows}
    assert shown == dict(count)   # fewer states than the chart's row limit


def test_every_dashboard_draws_the_runs_data_in_chromium(first_run, live_cfg):
    """What a person opening Superset after the run sees: each dashboard's every chart drawn, with
    data and without an error (superset.check raises naming the charts that are not)."""
    report = superset.check(live_cfg)
    assert set(report) == set(superset.dashboard_slugs()) == {"overview", "engagement", "subscriptions",
                                                               "data-health"}
    assert all(report.values())     # every dashboard has charts


def test_rerun_is_fast_and_duplicates_nothing(first_run, live_cfg):
    inputs, _ = first_run
    before = druid.sql(live_cfg, 'SELECT SUM(listen_count) AS n FROM "agg_listens_hourly"')[0]["n"]
    again = pipeline.run(live_cfg, inputs)   # the same files land on the same keys
    bronze = next(s for s in again.steps if s[0] == "bronze")
    assert bronze[2].startswith("0 new objects")
    assert druid.sql(live_cfg, 'SELECT SUM(listen_count) AS n FROM "agg_listens_hourly"')[0]["n"] == before
    assert again.reconciliation == first_run[1].reconciliation


# --- Data health (medley/health.py): what the runs above measured, as Druid serves it -----------
# These run after test_rerun_is_fast_and_duplicates_nothing, so two runs have been measured.
# "layer" and "stream" are quoted: both are keywords of Druid SQL (Calcite's SELECT STREAM).

def _latest_rows(cfg) -> dict[tuple[str, str], int]:
    rows = druid.sql(cfg, 'SELECT "layer", "stream", LATEST(row_count) AS n FROM "data_health" GROUP BY 1, 2')
    return {(r["layer"], r["stream"]): r["n"] for r in rows}


def test_health_rows_per_layer_in_druid_are_the_reconciliation_report(first_run, live_cfg):
    _, report = first_run
    latest = _latest_rows(live_cfg)
    for r in report.reconciliation:
        s = r["stream"]
        assert {layer: latest[(layer, s)] for layer in ("bronze", "silver", "quarantine", "duplicates", "gold")} == {
            "bronze": r["bronze"], "silver": r["silver_total"], "quarantine": r["quarantined"],
            "duplicates": r["duplicates"], "gold": r["gold"]}, s
    # Druid's rows of each served fact, as the druid hop counted them: exactly gold's (no rollup)
    served = {s: n for (layer, s), n in latest.items() if layer == "druid"}
    assert "listen_events" in served
    assert served == {r["stream"]: r["gold"] for r in report.reconciliation if r["stream"] in served}
    assert served["listen_events"] == druid.sql(live_cfg, 'SELECT COUNT(*) AS n FROM "fact_listen"')[0]["n"]


def test_health_freshness_is_the_newest_event_of_each_layer(first_run, live_cfg, spark):
    from pyspark.sql import functions as F

    rows = druid.sql(live_cfg, 'SELECT "layer", LATEST(newest_event_ms) AS ms FROM "data_health" '
                               "WHERE \"stream\" = 'listen_events' GROUP BY 1")
    newest = {r["layer"]: r["ms"] for r in rows}
    silver = spark.read.format("delta").load(storage.table_uri(live_cfg, "silver.listen_events"))
    expected_ms = silver.agg((F.unix_micros(F.max("event_at")) / 1000).cast("long")).first()[0]
    assert newest["silver"] == newest["gold"] == expected_ms
    in_druid = druid.sql(live_cfg, 'SELECT TIMESTAMP_TO_MILLIS(MAX(__time)) AS ms FROM "fact_listen"')[0]["ms"]
    assert newest["druid"] == in_druid == expected_ms
    assert newest["bronze"] % (3600 * 1000) == 0      # bronze: the start of its newest landing hour
    assert newest["quarantine"] is None and newest["duplicates"] is None


def test_health_quarantine_in_druid_is_silver_quarantine_by_reason(first_run, live_cfg, spark):
    quarantine = spark.read.format("delta").load(storage.table_uri(live_cfg, "silver.quarantine"))
    expected = {r["reason"]: r["count"] for r in quarantine.groupBy("reason").count().collect()}
    assert expected   # the broken lines of tests/corpus.py
    rows = druid.sql(live_cfg, 'SELECT reason, SUM(row_count) AS n FROM "data_health_quarantine" GROUP BY reason')
    served = {r["reason"]: r["n"] for r in rows}
    assert served.pop(health.NOTHING_QUARANTINED, 0) == 0   # the days and streams with none read 0
    assert served == expected


def test_health_gates_in_druid_are_every_check_of_every_gate(first_run, live_cfg):
    _, report = first_run
    rows = druid.sql(live_cfg, 'SELECT table_name, COUNT(*) AS checks, '
                               "SUM(CASE WHEN outcome = 'failed' THEN 1 ELSE 0 END) AS failed "
                               'FROM "data_health_gates" WHERE run_id = ? GROUP BY table_name', [report.run_id])
    assert {r["table_name"]: r["checks"] for r in rows} == {g.table: g.evaluated for g in report.gates}
    assert sum(r["failed"] for r in rows) == 0


def test_health_reruns_add_one_measurement_each_and_no_duplicates(first_run, live_cfg):
    twice = druid.sql(live_cfg, 'SELECT run_id, "layer", "stream", COUNT(*) AS n FROM "data_health" '
                                "GROUP BY 1, 2, 3 HAVING COUNT(*) > 1")
    assert twice == []
    runs = druid.sql(live_cfg, "SELECT COUNT(DISTINCT run_id) AS n FROM \"data_health\" WHERE \"layer\" = 'bronze'")
    assert runs[0]["n"] == 2          # the first run and the rerun
    checks = druid.sql(live_cfg, 'SELECT run_id, table_name, expectation, COUNT(*) AS n FROM "data_health_gates" '
                                 "GROUP BY run_id, table_name, expectation HAVING COUNT(*) > 1")
    assert checks == []


def test_health_dashboard_charts_show_druids_numbers(first_run, live_cfg, spark):
    _, report = first_run
    shown = {(r["layer"], r["stream"]): r["rows"] for r in superset.chart_data(live_cfg, "Rows per layer and stream")}
    assert shown == _latest_rows(live_cfg)
    quarantine = spark.read.format("delta").load(storage.table_uri(live_cfg, "silver.quarantine"))
    by_reason = Counter()
    for r in superset.chart_data(live_cfg, "Quarantine by reason and stream"):
        by_reason[r["reason"]] += r["quarantined_lines"]
    assert by_reason == Counter({r["reason"]: r["count"] for r in quarantine.groupBy("reason").count().collect()})
    gates = superset.chart_data(live_cfg, "Gate results")
    assert {r["table_name"] for r in gates} == {g.table for g in report.gates}
    assert {r["latest_outcome"] for r in gates} == {"passed"}
    freshness = {(r["stream"], r["layer"]): r for r in superset.chart_data(live_cfg, "Freshness per stream and layer")}
    assert freshness[("listen_events", "gold")]["lag_hours"] > 0


# --- Druid serves every gold fact and aggregate by readable dimensions (druid_specs/README.md) ---

# The dimension tables joined here in Spark SQL, independently of medley/serving.py: each fact's
# rows with the song, artist, place and gender its keys point at.
DENORMALISED = """
    SELECT f.*, s.song, a.artist, l.state_code, l.state_name, l.city, u.gender
    FROM {fact} f
    LEFT JOIN dim_user u ON f.user_key = u.user_key
    LEFT JOIN dim_location l ON f.location_key = l.location_key
    {listen_joins}
"""
LISTEN_JOINS = ("LEFT JOIN dim_song s ON f.song_key = s.song_key "
                "LEFT JOIN dim_artist a ON f.artist_key = a.artist_key")


def _gold_views(spark, cfg) -> None:
    for c in all_contracts("gold"):
        spark.read.format("delta").load(storage.table_uri(cfg, c.table)).createOrReplaceTempView(c.name)
    for fact in ("fact_listen", "fact_page_view", "fact_auth", "fact_status_change"):
        joins = LISTEN_JOINS if fact == "fact_listen" else ""
        sql = DENORMALISED.format(fact=fact, listen_joins=joins)
        if fact != "fact_listen":      # no song or artist to join
            sql = sql.replace("s.song, a.artist, ", "")
        spark.sql(sql).createOrReplaceTempView(f"served_{fact}")


def _served(spec: dict) -> tuple[str, list[str], list[dict]]:
    schema = spec["spec"]["dataSchema"]
    dims = [d if isinstance(d, str) else d["name"] for d in schema["dimensionsSpec"]["dimensions"]]
    return schema["timestampSpec"]["column"], dims, schema["metricsSpec"]


def _value(v):
    return round(v, 6) if isinstance(v, float) else v


def test_druid_serves_every_gold_fact_and_aggregate_row_for_row(first_run, live_cfg, spark):
    """Each datasource, grouped by its time and every dimension, gives the same counts and sums as
    the same group-by over the gold tables (the facts joined to their dimensions here)."""
    from medley import serving

    _gold_views(spark, live_cfg)
    specs = serving.gold_specs()
    assert set(first_run[1].druid_rows) <= set(specs) and "fact_listen" in first_run[1].druid_rows
    for name, spec in specs.items():
        if name == "active_users":
            continue                  # a sketch: checked against exact distinct users below
        time_col, dims, metrics = _served(spec)
        source = serving.source_name(spec)
        view = f"served_{source}" if source.startswith("fact_") else source
        measures = [("COUNT(*)", "COUNT(*)") if m["type"] == "count" else
                    (f'SUM("{m["name"]}")', f"SUM({m['fieldName']})") for m in metrics]
        quoted = [f'"{d}"' for d in dims]
        # is_success is served as the string "true"/"false"
        spark_dims = [f"CAST({d} AS STRING) AS {d}" if d == "is_success" else d for d in dims]
        druid_sql = (f"SELECT TIMESTAMP_TO_MILLIS(__time) AS t, {''.join(q + ', ' for q in quoted)}"
                     f"{', '.join(f'{d} AS m{i}' for i, (d, _) in enumerate(measures))} FROM \"{name}\" "
                     f"GROUP BY {', '.join(['1', *quoted])}")
        spark_sql = (f"SELECT unix_millis(CAST({time_col} AS TIMESTAMP)) AS t, {''.join(d + ', ' for d in spark_dims)}"
                     f"{', '.join(f'{s} AS m{i}' for i, (_, s) in enumerate(measures))} FROM {view} "
                     f"GROUP BY {', '.join(str(k + 1) for k in range(len(dims) + 1))}")
        in_gold = Counter(tuple(_value(v) for v in r) for r in spark.sql(spark_sql).collect())
        # a table with no rows for the run (e.g. no failed request) is not ingested at all
        assert (name in first_run[1].druid_rows) == bool(in_gold), name
        if in_gold:
            in_druid = Counter(tuple(_value(v) for v in r.values()) for r in druid.sql(live_cfg, druid_sql))
            assert in_druid == in_gold, name


def test_listens_by_song_state_and_gender_in_druid_are_golds(first_run, live_cfg, spark):
    _gold_views(spark, live_cfg)
    druid_rows = druid.sql(live_cfg, 'SELECT song, state_name, gender, COUNT(*) AS n, SUM(duration_s) AS s '
                                     'FROM "fact_listen" GROUP BY song, state_name, gender')
    gold_rows = spark.sql("SELECT s.song, l.state_name, u.gender, COUNT(*) AS n, SUM(f.duration_s) AS s "
                          "FROM fact_listen f JOIN dim_song s ON f.song_key = s.song_key "
                          "JOIN dim_location l ON f.location_key = l.location_key "
                          "JOIN dim_user u ON f.user_key = u.user_key "
                          "GROUP BY s.song, l.state_name, u.gender").collect()
    assert {(r["song"], r["state_name"], r["gender"]): (r["n"], round(r["s"], 6)) for r in druid_rows} == {
        (r["song"], r["state_name"], r["gender"]): (r["n"], round(r["s"], 6)) for r in gold_rows}
    # readable: every listen has a song and, as every listener of the input, a state and a gender
    assert all(r["song"] and r["state_name"] and r["gender"] for r in druid_rows)


def test_active_users_from_the_sketch_are_the_exact_distinct_users(first_run, live_cfg, spark):
    """Distinct users over the 7 days ending with the input's day (WAU), overall and per level and
    state: the theta sketch union equals the exact count over gold page views (fewer users than
    the sketch's 16,384 entries), while adding up its rows' counts would not (a user who changed
    level, or moved, is in two rows)."""
    _gold_views(spark, live_cfg)
    first, after = DAY - timedelta(days=6), DAY + timedelta(days=1)
    week = f"__time >= TIMESTAMP '{first} 00:00:00' AND __time < TIMESTAMP '{after} 00:00:00'"
    exact = spark.sql("SELECT COUNT(DISTINCT user_id) AS n FROM fact_page_view "
                      f"WHERE event_date BETWEEN DATE'{first}' AND DATE'{DAY}'").collect()[0]["n"]
    wau = druid.sql(live_cfg, f'SELECT THETA_SKETCH_ESTIMATE(DS_THETA(users)) AS n FROM "active_users" WHERE {week}')
    assert wau[0]["n"] == exact > 0
    by_level = druid.sql(live_cfg, f'SELECT level, THETA_SKETCH_ESTIMATE(DS_THETA(users)) AS n, '
                                   f'SUM(page_views) AS views FROM "active_users" WHERE {week} GROUP BY level')
    gold_by_level = spark.sql("SELECT level, COUNT(DISTINCT user_id) AS n, COUNT(*) AS views "
                              "FROM fact_page_view GROUP BY level").collect()
    assert {r["level"]: (r["n"], r["views"]) for r in by_level} == {
        r["level"]: (float(r["n"]), r["views"]) for r in gold_by_level}
    by_state = druid.sql(live_cfg, 'SELECT state_code, THETA_SKETCH_ESTIMATE(DS_THETA(users)) AS n '
                                   'FROM "active_users" GROUP BY state_code')
    gold_by_state = spark.sql("SELECT state_code, COUNT(DISTINCT user_id) AS n FROM served_fact_page_view "
                              "GROUP BY state_code").collect()
    assert {r["state_code"]: r["n"] for r in by_state} == {r["state_code"]: float(r["n"]) for r in gold_by_state}


def test_serving_exports_do_not_pile_up(first_run, live_cfg):
    prefix = f"{storage.lakehouse_prefix(live_cfg)}/serving/"
    assert storage.list_keys(live_cfg, prefix) == []
