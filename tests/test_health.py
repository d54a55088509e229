"""Data health (medley/health.py): the rows the pure functions derive from a reconciliation report,
bronze/silver/quarantine tables and saved gate results, and that their contracts, Druid specs and
Superset datasets agree. The live check after a whole pipeline run is in tests/test_end_to_end.py."""

from __future__ import annotations

import json
from datetime import date, datetime

import pytest
import yaml
from pyspark.sql import types as T

from medley import REPO_ROOT, druid, health
from medley.contracts import contract

MEASURED = datetime(2026, 12, 4, 13, 0, 0)
RECONCILIATION = [
    {"stream": "listen_events", "bronze": 10, "silver": 8, "quarantined": 1, "duplicates": 1,
     "silver_total": 9, "gold": 9, "bronze_ok": True, "gold_ok": True},
    {"stream": "status_change_events", "bronze": 0, "silver": 0, "quarantined": 0, "duplicates": 0,
     "silver_total": 0, "gold": 0, "bronze_ok": True, "gold_ok": True},
]


def test_every_reconciliation_stream_maps_to_its_silver_table_fact_and_landing_streams():
    assert health.streams() == {
        "listen_events": ("listen_events", "fact_listen", ("listen_events",)),
        "page_view_events+interana_events": ("page_view_events", "fact_page_view",
                                             ("page_view_events", "interana_events")),
        "auth_events": ("auth_events", "fact_auth", ("auth_events",)),
        "status_change_events": ("status_change_events", "fact_status_change", ("status_change_events",))}
    assert set(health.streams()) == set(contract("ops/data_health").column("stream").accepted_values)


def test_layer_rows_carry_the_reconciled_counts_of_each_layer():
    newest = {("silver", "listen_events"): datetime(2026, 11, 1, 23, 59), ("bronze", "listen_events"): datetime(2026, 11, 1, 23)}
    rows = health.layer_rows(RECONCILIATION, newest, MEASURED, "run-1")
    listen = {r["layer"]: r for r in rows if r["stream"] == "listen_events"}
    assert {layer: r["row_count"] for layer, r in listen.items()} == {
        "bronze": 10, "silver": 9, "quarantine": 1, "duplicates": 1, "gold": 9}   # silver: the whole table
    assert {layer: r["table_name"] for layer, r in listen.items()} == {
        "bronze": "bronze.events", "silver": "silver.listen_events", "quarantine": "silver.quarantine",
        "duplicates": "silver.duplicate_events", "gold": "gold.fact_listen"}
    assert listen["silver"]["newest_event_at"] == datetime(2026, 11, 1, 23, 59)
    assert listen["gold"]["newest_event_at"] is None          # not measured: none, not a guess
    assert all(r["run_id"] == "run-1" and r["measured_at"] == MEASURED for r in rows)
    # a stream without rows has rows of 0 in every layer (so a chart shows it empty, not missing)
    assert [r["row_count"] for r in rows if r["stream"] == "status_change_events"] == [0] * 5
    keys = [(r["run_id"], r["layer"], r["stream"]) for r in rows]
    assert len(keys) == len(set(keys)) == 10                   # the contract's grain


def test_layer_rows_fit_the_contract(spark):
    rows = health.layer_rows(RECONCILIATION, {}, MEASURED, "run-1")
    df = health._frame(spark, health.HEALTH, rows)
    assert df.columns == contract("ops/data_health").column_names and df.count() == 10


def _bronze(spark, rows):
    schema = T.StructType([T.StructField("stream", T.StringType()), T.StructField("event_date", T.DateType()),
                           T.StructField("event_hour", T.IntegerType())])
    return spark.createDataFrame(rows, schema)


def test_bronze_freshness_is_the_start_of_the_newest_landing_hour_per_reconciliation_stream(spark):
    bronze = _bronze(spark, [("listen_events", date(2026, 11, 1), 23), ("listen_events", date(2026, 11, 2), 0),
                             ("page_view_events", date(2026, 11, 1), 5), ("interana_events", date(2026, 11, 1), 7)])
    newest = {r["stream"]: r["newest_event_at"] for r in health.newest_landing_hour(bronze).collect()}
    assert newest == {"listen_events": datetime(2026, 11, 2, 0, 0),
                      "page_view_events+interana_events": datetime(2026, 11, 1, 7, 0)}


def test_newest_event_at_is_null_for_an_empty_table(spark):
    schema = T.StructType([T.StructField("event_at", T.TimestampType())])
    assert health.newest_event_at(spark.createDataFrame([], schema)).first()["newest_event_at"] is None
    two = spark.createDataFrame([(datetime(2026, 11, 1, 1),), (datetime(2026, 11, 3, 2),)], schema)
    assert health.newest_event_at(two).first()["newest_event_at"] == datetime(2026, 11, 3, 2)


QUARANTINE_SCHEMA = T.StructType([T.StructField("stream", T.StringType()), T.StructField("reason", T.StringType()),
                                  T.StructField("event_date", T.DateType())])
BRONZE_SCHEMA = T.StructType([T.StructField("stream", T.StringType()), T.StructField("event_date", T.DateType())])


def test_quarantine_is_counted_by_landing_day_stream_and_reason(spark):
    quarantine = spark.createDataFrame([
        ("listen_events", "malformed_json", date(2026, 11, 1)), ("listen_events", "malformed_json", date(2026, 11, 1)),
        ("listen_events", "malformed_json", date(2026, 11, 2)), ("interana_events", "wrong_type:userId", date(2026, 11, 1)),
        ("page_view_events", "wrong_type:userId", date(2026, 11, 1))], QUARANTINE_SCHEMA)
    bronze = spark.createDataFrame([("listen_events", date(2026, 11, 1)), ("listen_events", date(2026, 11, 2)),
                                    ("interana_events", date(2026, 11, 1))], BRONZE_SCHEMA)
    out = health.quarantine_by_reason(quarantine, bronze, MEASURED)
    assert out.columns == contract("ops/data_health_quarantine").column_names
    assert sorted(tuple(r)[:4] for r in out.collect()) == [
        (datetime(2026, 11, 1), "listen_events", "malformed_json", 2),
        (datetime(2026, 11, 1), "page_view_events+interana_events", "wrong_type:userId", 2),
        (datetime(2026, 11, 2), "listen_events", "malformed_json", 1)]


def test_a_landed_day_and_stream_with_nothing_quarantined_reads_zero(spark):
    quarantine = spark.createDataFrame([("listen_events", "malformed_json", date(2026, 11, 1))], QUARANTINE_SCHEMA)
    bronze = spark.createDataFrame([("listen_events", date(2026, 11, 1)), ("listen_events", date(2026, 11, 2)),
                                    ("auth_events", date(2026, 11, 1)), ("auth_events", date(2026, 11, 1)),
                                    ("not_a_stream", date(2026, 11, 1))], BRONZE_SCHEMA)
    out = health.quarantine_by_reason(quarantine, bronze, MEASURED)
    assert sorted(tuple(r)[:4] for r in out.collect()) == [
        (datetime(2026, 11, 1), "auth_events", health.NOTHING_QUARANTINED, 0),
        (datetime(2026, 11, 1), "listen_events", "malformed_json", 1),
        (datetime(2026, 11, 2), "listen_events", health.NOTHING_QUARANTINED, 0)]


def test_an_empty_quarantine_of_data_never_landed_gives_no_rows(spark):
    empty = health.quarantine_by_reason(spark.createDataFrame([], QUARANTINE_SCHEMA),
                                        spark.createDataFrame([], BRONZE_SCHEMA), MEASURED)
    assert empty.count() == 0


# A saved GE result as medley/quality.py writes it (validation.to_json_dict()), cut to what is read.
SAVED = {"success": False, "results": [
    {"success": True, "expectation_config": {"type": "expect_column_values_to_not_be_null",
                                             "kwargs": {"column": "user_key"}},
     "result": {"element_count": 5, "unexpected_count": 0}},
    {"success": False, "expectation_config": {"type": "expect_compound_columns_to_be_unique",
                                              "kwargs": {"column_list": ["event_hour", "song"]}},
     "result": {"element_count": 5, "unexpected_count": 2}},
    {"success": True, "expectation_config": {"type": "expect_table_row_count_to_be_between",
                                             "kwargs": {"min_value": 0, "max_value": 9}},
     "result": {"observed_value": 3}}]}


def test_gate_rows_name_table_check_outcome_and_unexpected_rows():
    rows = health.gate_rows(SAVED, "quality/runs/20261204T130000-ab12cd/gold/fact_listen.json", MEASURED,
                            "s3://medley/quality/runs/20261204T130000-ab12cd/gold/fact_listen.json")
    assert [(r["table_name"], r["expectation"], r["outcome"], r["unexpected_count"]) for r in rows] == [
        ("gold.fact_listen", "expect_column_values_to_not_be_null(user_key)", "passed", 0),
        ("gold.fact_listen", "expect_compound_columns_to_be_unique(event_hour, song)", "failed", 2),
        ("gold.fact_listen", "expect_table_row_count_to_be_between()", "passed", None)]
    assert {(r["run_id"], r["layer"]) for r in rows} == {("20261204T130000-ab12cd", "gold")}


def test_druid_interval_is_whole_years():
    assert health.druid_interval([datetime(2026, 11, 1, 3), datetime(2026, 12, 4)]) == "2026-01-01/2027-01-01"
    assert health.druid_interval([date(2025, 12, 31), date(2026, 1, 1)]) == "2025-01-01/2027-01-01"


@pytest.mark.parametrize("table", health.TABLES)
def test_druid_spec_serves_the_contracts_columns(table):
    """Each health table has a Druid spec of the same name whose time and dimensions are columns
    of its contract (newest_event_ms is derived from newest_event_at in the spec)."""
    c = contract(table.replace(".", "/"))
    schema = druid.load_spec(c.name)["spec"]["dataSchema"]
    assert schema["dataSource"] == c.name
    assert schema["granularitySpec"]["rollup"] is False and schema["granularitySpec"]["segmentGranularity"] == "year"
    derived = {t["name"] for t in schema.get("transformSpec", {}).get("transforms", [])}
    names = {d if isinstance(d, str) else d["name"] for d in schema["dimensionsSpec"]["dimensions"]}
    assert schema["timestampSpec"]["column"] in c.column_names
    assert names - derived <= set(c.column_names), names - derived - set(c.column_names)
    assert not [col.name for col in c.columns if col.pii]


@pytest.mark.parametrize("table", health.TABLES)
def test_superset_dataset_columns_are_the_druid_columns(table):
    name = table.split(".")[1]
    dataset = yaml.safe_load((REPO_ROOT / "superset" / "datasets" / f"{name}.yml").read_text())
    schema = druid.load_spec(name)["spec"]["dataSchema"]
    served = {d if isinstance(d, str) else d["name"] for d in schema["dimensionsSpec"]["dimensions"]}
    assert {c["name"] for c in dataset["columns"]} == served | {"__time"}
    assert all(c.get("description") for c in dataset["columns"]), name
    assert all(m.get("verbose_name") and m.get("d3format") is not None for m in dataset["metrics"]), name


@pytest.mark.slow   # three Druid tasks and a drop: about 3 minutes on a loaded machine
def test_druid_follows_the_quarantine_snapshot_as_it_shrinks_and_empties(live_cfg, spark):
    """A replay takes lines out of quarantine, possibly all of them: Druid must stop serving the
    old counts (a year no longer in the table, then the whole datasource), not keep them."""
    from medley import config, storage
    from medley.delta import overwrite

    cfg = config.load({**live_cfg.env, "MEDLEY_STORAGE__BUCKET": "medley-health-shrink"})
    storage.ensure_bucket(cfg)
    where = storage.table_uri(cfg, health.QUARANTINE)
    c = contract(health.QUARANTINE)

    def snapshot(*days):
        rows = [(datetime(*day), "listen_events", "negative_duration", 2, MEASURED) for day in days]
        overwrite(spark.createDataFrame(rows, c.spark_schema()), where)
        return health.serve(spark, cfg).get("data_health_quarantine")

    assert snapshot((2025, 6, 1), (2026, 1, 2)) == 2
    assert snapshot((2026, 1, 2)) == 1                      # 2025 is gone from Druid too
    assert snapshot() is None
    assert "data_health_quarantine" not in druid.served_datasources(cfg)
