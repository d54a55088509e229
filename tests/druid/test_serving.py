"""medley.serving.serving_rows on tiny explicit inputs: the fact's rows joined to the dimensions its
spec reads, the unknown member giving nulls, every column typed as Druid reads it."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from chispa import assert_df_equality
from pyspark.sql import types as T

from medley import serving
from medley.contracts import contract

SPECS = serving.gold_specs()


def frame(spark, table: str, rows: list[dict]):
    """Rows of a gold table with its contract's schema (missing columns null)."""
    schema = contract(f"gold/{table}").spark_schema()
    return spark.createDataFrame([tuple(r.get(f.name) for f in schema.fields) for r in rows], schema)


@pytest.fixture
def dims(spark):
    return {
        "dim_user": frame(spark, "dim_user", [
            {"user_key": -1, "valid_from": datetime(1970, 1, 1), "is_current": True},
            {"user_key": 11, "user_id": 7, "level": "free", "gender": "F", "valid_from": datetime(2026, 1, 1),
             "valid_to": datetime(2026, 1, 1, 12), "is_current": False},
            {"user_key": 12, "user_id": 7, "level": "paid", "gender": "F", "valid_from": datetime(2026, 1, 1, 12),
             "is_current": True}]),
        "dim_location": frame(spark, "dim_location", [
            {"location_key": -1},
            {"location_key": 5, "city": "Austin", "state_code": "TX", "state_name": "Texas", "zip": "78701"}]),
    }


def auth_fact(spark, rows: list[dict]):
    base = {"event_date": date(2026, 1, 1), "date_key": 20260101, "time_key": 0, "session_id": 3,
            "item_in_session": 0, "level": "free"}
    return frame(spark, "fact_auth", [{**base, **r} for r in rows])


def test_a_fact_gets_the_dimension_columns_its_keys_point_at_and_nulls_for_the_unknown_member(spark, dims):
    fact = auth_fact(spark, [
        {"event_key": "a", "event_at": datetime(2026, 1, 1, 9), "user_key": 11, "location_key": 5,
         "user_id": 7, "is_success": True},
        {"event_key": "b", "event_at": datetime(2026, 1, 1, 13), "user_key": 12, "location_key": 5,
         "user_id": 7, "is_success": True, "level": "paid"},
        {"event_key": "c", "event_at": datetime(2026, 1, 1, 14), "user_key": -1, "location_key": -1,
         "is_success": False}])
    got = serving.serving_rows(fact, dims, SPECS["fact_auth"])
    schema = T.StructType([
        T.StructField("event_at", T.TimestampType()), T.StructField("is_success", T.StringType()),
        T.StructField("level", T.StringType()), T.StructField("gender", T.StringType()),
        T.StructField("state_code", T.StringType()), T.StructField("state_name", T.StringType()),
        T.StructField("city", T.StringType()), T.StructField("user_id", T.LongType())])
    expected = spark.createDataFrame([
        (datetime(2026, 1, 1, 9), "true", "free", "F", "TX", "Texas", "Austin", 7),
        (datetime(2026, 1, 1, 13), "true", "paid", "F", "TX", "Texas", "Austin", 7),
        (datetime(2026, 1, 1, 14), "false", "free", None, None, None, None, None)], schema)
    assert_df_equality(got, expected, ignore_row_order=True, ignore_nullable=True)


def test_an_aggregate_partitioned_by_its_date_gets_that_date_as_a_timestamp_column(spark):
    agg = frame(spark, "agg_active_users_monthly", [
        {"month_start": date(2026, 1, 1), "level": "free", "active_users": 3}])
    got = serving.serving_rows(agg, {}, SPECS["agg_active_users_monthly"])
    assert got.columns == ["month_start", "level", "active_users"]
    assert got.collect()[0].asDict() == {"month_start": datetime(2026, 1, 1), "level": "free", "active_users": 3}


def test_only_the_intervals_rows_are_read(spark):
    fact = auth_fact(spark, [
        {"event_key": k, "event_date": d, "event_at": datetime(d.year, d.month, d.day), "user_key": -1,
         "location_key": -1, "is_success": True}
        for k, d in (("a", date(2026, 1, 1)), ("b", date(2026, 1, 2)), ("c", date(2026, 1, 3)))])
    kept = serving.in_intervals(fact, SPECS["fact_auth"], ["2026-01-01/2026-01-02", "2026-01-03/2026-01-04"])
    assert sorted(r.event_key for r in kept.collect()) == ["a", "c"]
