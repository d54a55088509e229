from chispa import assert_df_equality
from pyspark.sql import functions as F

from gold_inputs import empty, silver, ts
from spark.gold import dim_user

VERSION_COLUMNS = ["user_id", "level", "valid_from", "valid_to", "is_current"]


def _observations(spark, rows):
    views = silver(spark, "page_view_events", rows)
    none = [silver(spark, t, []) for t in ("listen_events", "auth_events")]
    return dim_user.level_observations(none[0], views, none[1], silver(spark, "status_change_events", []))


def _versions(df):
    return sorted(tuple(r) for r in df.select(*VERSION_COLUMNS).collect())


def test_level_observations_take_the_level_a_status_change_leaves_and_drop_anonymous_events(spark):
    listens = silver(spark, "listen_events", [{"event_at": "2026-01-01 10:00:00", "user_id": 7}])
    views = silver(spark, "page_view_events", [{"event_at": "2026-01-01 10:01:00", "user_id": None,
                                                "auth": "Logged Out"}])
    changes = silver(spark, "status_change_events", [
        {"event_at": "2026-01-01 10:02:00", "user_id": 7, "level": None, "previous_level": "free"}])
    out = dim_user.level_observations(listens, views, silver(spark, "auth_events", []), changes)
    assert sorted((r.user_id, r.level) for r in out.collect()) == [(7, "free"), (7, "free")]
    assert not {"first_name", "last_name"} & set(out.columns)


def test_first_load_makes_one_version_per_run_of_levels(spark):
    obs = _observations(spark, [
        {"event_at": "2026-01-01 10:00:00", "user_id": 7, "level": "free"},
        {"event_at": "2026-01-01 10:05:00", "user_id": 7, "level": "free"},
        {"event_at": "2026-01-01 11:00:00", "user_id": 7, "level": "paid"},
        {"event_at": "2026-01-01 12:00:00", "user_id": 8, "level": "paid"}])
    merged = dim_user.merge_versions(empty(spark, "gold.dim_user"), obs)
    assert _versions(merged) == [
        (7, "free", ts("2026-01-01 10:00:00"), ts("2026-01-01 11:00:00"), False),
        (7, "paid", ts("2026-01-01 11:00:00"), None, True),
        (8, "paid", ts("2026-01-01 12:00:00"), None, True)]
    assert merged.select("user_key").distinct().count() == 3
    assert not {"first_name", "last_name"} & set(merged.columns)


def test_new_events_close_the_current_version_and_keep_existing_keys(spark):
    day1 = _observations(spark, [{"event_at": "2026-01-01 10:00:00", "user_id": 7, "level": "free"}])
    existing = dim_user.merge_versions(empty(spark, "gold.dim_user"), day1)
    day2 = _observations(spark, [
        {"event_at": "2026-01-02 09:00:00", "user_id": 7, "level": "free"},
        {"event_at": "2026-01-02 10:00:00", "user_id": 7, "level": "paid"}])
    merged = dim_user.merge_versions(existing, day2)
    assert _versions(merged) == [
        (7, "free", ts("2026-01-01 10:00:00"), ts("2026-01-02 10:00:00"), False),
        (7, "paid", ts("2026-01-02 10:00:00"), None, True)]
    old_key = existing.first().user_key
    assert merged.where(F.col("level") == "free").first().user_key == old_key
    changed = dim_user.changed_versions(merged, existing)
    assert _versions(changed) == _versions(merged)     # one closed, one new


def test_rerunning_the_same_events_changes_nothing(spark):
    obs = _observations(spark, [
        {"event_at": "2026-01-01 10:00:00", "user_id": 7, "level": "free"},
        {"event_at": "2026-01-01 11:00:00", "user_id": 7, "level": "paid"}])
    existing = dim_user.merge_versions(empty(spark, "gold.dim_user"), obs)
    again = dim_user.merge_versions(existing, obs)
    assert_df_equality(again, existing, ignore_row_order=True)
    assert dim_user.changed_versions(again, existing).count() == 0


def test_a_late_earlier_event_adds_a_version_before_the_existing_ones(spark):
    existing = dim_user.merge_versions(empty(spark, "gold.dim_user"), _observations(
        spark, [{"event_at": "2026-01-02 10:00:00", "user_id": 7, "level": "paid"}]))
    late = _observations(spark, [{"event_at": "2026-01-01 10:00:00", "user_id": 7, "level": "free"}])
    assert _versions(dim_user.merge_versions(existing, late)) == [
        (7, "free", ts("2026-01-01 10:00:00"), ts("2026-01-02 10:00:00"), False),
        (7, "paid", ts("2026-01-02 10:00:00"), None, True)]


def test_unknown_member_has_key_minus_one(spark):
    out = dim_user.with_unknown(empty(spark, "gold.dim_user"))
    row = out.first()
    assert (row.user_key, row.user_id, row.is_current) == (-1, None, True)
