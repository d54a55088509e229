"""The gold job on real Delta tables (local disk): facts = silver rows, every foreign key resolves,
a rerun gives identical gold, a new day extends the dimensions incrementally."""

from pyspark.sql import functions as F

from gold_inputs import silver
from medley.contracts import all_contracts
from medley.delta import append, exists, overwrite, read
from spark.gold.run import run_at

DAY1 = {
    "page_view_events": [
        {"event_at": "2026-01-01 10:00:00", "user_id": 7, "session_id": 1},
        {"event_at": "2026-01-01 10:30:00", "user_id": 7, "session_id": 1, "page": "Submit Upgrade"},
        {"event_at": "2026-01-01 11:00:00", "user_id": 7, "session_id": 1, "level": "paid", "page": "NextSong"},
        {"event_at": "2026-01-01 12:00:00", "user_id": None, "session_id": 2, "auth": "Logged Out",
         "city": None, "state_code": None, "zip": None}],
    "listen_events": [{"event_at": "2026-01-01 11:00:00", "user_id": 7, "session_id": 1, "level": "paid"}],
    "auth_events": [{"event_at": "2026-01-01 09:59:00", "user_id": None, "session_id": 1, "is_success": False}],
    "status_change_events": [{"event_at": "2026-01-01 10:30:00", "user_id": 7, "session_id": 1}],
}
DAY2 = {
    "page_view_events": [{"event_at": "2026-01-03 08:00:00", "user_id": 7, "session_id": 3, "level": "paid"},
                         {"event_at": "2026-01-03 09:00:00", "user_id": 8, "session_id": 4, "city": "Reno",
                          "state_code": "NV", "zip": "89501"}],
    "listen_events": [{"event_at": "2026-01-03 08:00:00", "user_id": 7, "session_id": 3, "level": "paid",
                       "artist": "Nobody Known", "song": "Demo"}],
    "auth_events": [],
    "status_change_events": [],
}


def _write_silver(spark, location, day):
    for table, rows in day.items():
        df = silver(spark, table, rows)
        where = location(f"silver.{table}")
        (append if exists(spark, where) else overwrite)(df, where, ["event_date"])


def _snapshot(spark, location):
    return {c.name: sorted(map(tuple, read(spark, location(c.table)).collect()), key=repr)
            for c in all_contracts("gold")}


def test_gold_job_is_exact_incremental_and_idempotent(spark, tmp_path):
    def location(table):
        return str(tmp_path / table)

    _write_silver(spark, location, DAY1)
    first = run_at(spark, location, {"2026-01-01"})
    assert first.tables["fact_page_view"] == 4 and first.tables["dim_time"] == 1440
    assert first.tables["dim_user"] == 3          # the unknown user and user 7 free, then paid

    _write_silver(spark, location, DAY2)
    second = run_at(spark, location, {"2026-01-03"})
    assert second.tables["dim_song"] == 1 and second.tables["dim_location"] == 1
    assert "dim_time" not in second.tables
    dates = [r.date_key for r in read(spark, location("gold.dim_date")).orderBy("date").collect()]
    assert dates == [20260101, 20260102, 20260103]

    gold = _snapshot(spark, location)
    for c in all_contracts("gold"):
        if c.name.startswith("fact_"):
            silver_rows = read(spark, location(f"silver.{c.name[5:]}_events")).count()
            assert len(gold[c.name]) == silver_rows, c.name
        for col in c.columns:
            if col.references:
                dim, key = col.references.split(".")
                facts = read(spark, location(c.table))
                members = read(spark, location(f"gold.{dim}")).select(F.col(key).alias("_member"))
                orphans = facts.join(members, on=facts[col.name] == members["_member"], how="left_anti")
                assert orphans.count() == 0, f"{c.name}.{col.name}"
    user7 = read(spark, location("gold.dim_user")).where(F.col("user_id") == 7)
    assert sorted((r.level, r.is_current) for r in user7.collect()) == [("free", False), ("paid", True)]

    run_at(spark, location, {"2026-01-03"})
    assert _snapshot(spark, location) == gold
