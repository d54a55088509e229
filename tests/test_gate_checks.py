"""Every kind of gate check fails when its rule is broken, and the gate names the check.

One good row of silver.status_change_events (and of gold.fact_auth) passes its whole suite; each
test breaks exactly one rule of it: a null in a non-nullable column, a value outside the accepted
set, a duplicate key, an out-of-range number, a failing hand-written expectation, an orphan
foreign key in gold. The suites are the real ones (generated from the contracts plus
expectations/*.json), validated by Great Expectations on Spark, results saved in MinIO.
"""

from __future__ import annotations

from datetime import date, datetime

import pytest

from instance import instance_env
from medley import config, hops, storage
from medley.contracts import contract
from medley.errors import ExitCode, GateFailed
from medley.quality import require_pass, validate

pytestmark = pytest.mark.services
BUCKET = "medley-gate-checks"
STATUS_CHANGE = contract("silver/status_change_events")
FACT_AUTH = contract("gold/fact_auth")

GOOD_CHANGE = {
    "event_key": "k1", "event_at": datetime(2026, 11, 2, 10, 0), "event_date": date(2026, 11, 2),
    "session_id": 5, "item_in_session": 3, "auth": "Logged In", "previous_level": "free",
    "new_level": "paid", "change_type": "upgrade", "user_id": 42, "first_name": "Ann",
    "last_name": "Lee", "gender": "F", "registered_at": datetime(2026, 1, 1), "city": "Austin",
    "state_code": "TX", "zip": "73301", "lat": 30.3, "lon": -97.7, "user_agent": "Mozilla/5.0",
    "dialect": "viirya", "source_object": "landing/status_change_events/x.jsonl.gz",
    "ingested_at": datetime(2026, 11, 2, 11, 0),
}
GOOD_AUTH = {
    "event_key": "a1", "event_at": datetime(2026, 11, 2, 10, 0), "event_date": date(2026, 11, 2),
    "date_key": 20261102, "time_key": 1000, "user_key": 7, "location_key": 9, "user_id": 42,
    "session_id": 5, "item_in_session": 0, "is_success": True, "level": "free",
}
DIM_KEYS = {"dim_date": ("date_key", "int", 20261102), "dim_time": ("time_key", "int", 1000),
            "dim_user": ("user_key", "long", 7), "dim_location": ("location_key", "long", 9)}


@pytest.fixture(scope="module")
def cfg(live_cfg):
    cfg = config.load({**instance_env(), "MEDLEY_STORAGE__BUCKET": BUCKET})
    storage.ensure_bucket(cfg)
    return cfg


def frame(spark, c, *rows: dict):
    """Rows in the contract's columns and types; every column nullable, so a null can reach the gate."""
    from pyspark.sql import types as T

    schema = T.StructType([T.StructField(f.name, f.dataType, True) for f in c.spark_schema()])
    return spark.createDataFrame([tuple(r[f.name] for f in schema) for r in rows], schema)


def check(cfg, spark, c, *rows: dict):
    return validate(cfg, c, frame(spark, c, *rows), "gate-checks")


@pytest.fixture(scope="module")
def gold_dimensions(cfg, spark):
    """The member keys the good fact row points at, as the gold dimensions of this bucket."""
    for name, (column, kind, key) in DIM_KEYS.items():
        (spark.createDataFrame([(key,)], f"{column} {kind}").write.format("delta").mode("overwrite")
         .save(storage.table_uri(cfg, f"gold.{name}")))


def test_the_good_row_passes_its_whole_suite(cfg, spark):
    result = check(cfg, spark, STATUS_CHANGE, GOOD_CHANGE)
    assert result.success, result.failed
    assert result.evaluated > len(STATUS_CHANGE.columns)   # the generated suite really ran


@pytest.mark.parametrize("broken, check_name", [
    ({"session_id": None}, "expect_column_values_to_not_be_null(session_id)"),
    ({"change_type": "sideways"}, "expect_column_values_to_be_in_set(change_type)"),
    ({"lat": 123.0}, "expect_column_values_to_be_between(lat)"),
    ({"user_id": -4}, "expect_column_values_to_be_between(user_id)"),
    # hand-written in expectations/silver/status_change_events.json
    ({"registered_at": datetime(2026, 12, 1)},
     "expect_column_pair_values_a_to_be_greater_than_b(event_at, registered_at)"),
], ids=["null", "accepted-values", "range-double", "range-long", "hand-written"])
def test_a_broken_rule_fails_the_gate_naming_the_check(cfg, spark, broken, check_name):
    result = check(cfg, spark, STATUS_CHANGE, GOOD_CHANGE, {**GOOD_CHANGE, "event_key": "k2", **broken})
    assert not result.success
    assert [f.split(" unexpected=")[0] for f in result.failed] == [check_name]
    assert result.failed[0].endswith("unexpected=1")
    with pytest.raises(GateFailed) as failed:
        require_pass(result)
    assert "silver.status_change_events" in str(failed.value) and check_name in str(failed.value)
    assert failed.value.exit_code == ExitCode.GATE_FAILED


def test_a_duplicate_key_fails_the_grain(cfg, spark):
    result = check(cfg, spark, STATUS_CHANGE, GOOD_CHANGE, {**GOOD_CHANGE, "item_in_session": 4})
    assert not result.success
    assert [f.split(" unexpected=")[0] for f in result.failed] == ["expect_column_values_to_be_unique(event_key)"]


def test_an_orphan_foreign_key_fails_the_gold_gate(cfg, spark, gold_dimensions):
    def gold_check(*rows):
        df, extra, flags = hops.with_reference_flags(spark, cfg, FACT_AUTH, frame(spark, FACT_AUTH, *rows))
        return validate(cfg, FACT_AUTH, df, "gate-checks", extra, flags)

    good = gold_check(GOOD_AUTH)
    assert good.success, good.failed
    orphan = gold_check(GOOD_AUTH, {**GOOD_AUTH, "event_key": "a2", "user_key": 8})
    assert not orphan.success
    assert orphan.failed == ["expect_column_values_to_not_be_null(_resolves_user_key) unexpected=1"]
