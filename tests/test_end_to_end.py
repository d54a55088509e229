"""The whole pipeline on real services: generated EventSim data of both dialects plus the broken
lines of tests/corpus.py -> landing in MinIO -> bronze -> silver -> gold (Delta, gated by Great
Expectations) -> Druid -> Superset. Druid's answers are compared with counts and sums computed
here, independently, from the input files."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from corpus import BAD_LINES
from medley import druid, land, pipeline, storage, superset
from medley.contracts import all_contracts, contract
from medley.quality import generated_expectations, hand_written
from medley.cli import main as cli_main

pytestmark = [pytest.mark.services, pytest.mark.timeout(2400)]
WINDOW = ["--start-time", "2026-11-01T00:00:00", "--end-time", "2026-11-02T00:00:00"]


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


def test_rerun_is_fast_and_duplicates_nothing(first_run, live_cfg):
    inputs, _ = first_run
    before = druid.sql(live_cfg, 'SELECT SUM(listen_count) AS n FROM "agg_listens_hourly"')[0]["n"]
    again = pipeline.run(live_cfg, inputs)   # the same files land on the same keys
    bronze = next(s for s in again.steps if s[0] == "bronze")
    assert bronze[2].startswith("0 new objects")
    assert druid.sql(live_cfg, 'SELECT SUM(listen_count) AS n FROM "agg_listens_hourly"')[0]["n"] == before
    assert again.reconciliation == first_run[1].reconciliation
