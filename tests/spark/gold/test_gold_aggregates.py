from datetime import date, datetime

from gold_inputs import silver
from spark.gold import (agg_active_users_daily, agg_active_users_monthly, agg_listens_hourly,
                        agg_page_errors_daily, agg_sessions_daily, agg_subscription_changes_daily)
from spark.gold.run import days_of_months, session_start_dates


def test_listens_hourly_group_by_hour_song_state_level_and_gender(spark):
    listens = silver(spark, "listen_events", [
        {"event_at": "2026-01-01 10:00:00", "user_id": 7, "duration_s": 100.0},
        {"event_at": "2026-01-01 10:59:59", "user_id": 8, "duration_s": 50.0},
        {"event_at": "2026-01-01 11:00:00", "user_id": 7, "duration_s": 100.0},
        {"event_at": "2026-01-01 11:10:00", "user_id": 9, "gender": "M", "state_code": "NY"}])
    rows = sorted((r.event_hour.hour, r.state_code, r.gender, r.listen_count, r.listen_seconds, r.event_date)
                  for r in agg_listens_hourly.build(listens).collect())
    assert rows == [(10, "FL", "F", 2, 150.0, date(2026, 1, 1)), (11, "FL", "F", 1, 100.0, date(2026, 1, 1)),
                    (11, "NY", "M", 1, 148.0, date(2026, 1, 1))]


def test_active_users_count_each_user_once_per_day_month_and_level(spark):
    views = silver(spark, "page_view_events", [
        {"event_at": "2026-01-01 10:00:00", "user_id": 7},
        {"event_at": "2026-01-01 11:00:00", "user_id": 7},
        {"event_at": "2026-01-01 11:00:00", "user_id": 8, "level": "paid"},
        {"event_at": "2026-01-02 11:00:00", "user_id": 7},
        {"event_at": "2026-01-02 12:00:00", "user_id": None, "auth": "Guest"}])
    daily = sorted(tuple(r) for r in agg_active_users_daily.build(views).collect())
    assert daily == [(date(2026, 1, 1), "free", 1), (date(2026, 1, 1), "paid", 1), (date(2026, 1, 2), "free", 1)]
    monthly = sorted(tuple(r) for r in agg_active_users_monthly.build(views).collect())
    assert monthly == [(date(2026, 1, 1), "free", 1), (date(2026, 1, 1), "paid", 1)]


def test_sessions_belong_to_the_day_and_level_they_start_at(spark):
    views = silver(spark, "page_view_events", [
        {"event_at": "2025-12-31 23:50:00", "user_id": 7, "session_id": 1},
        {"event_at": "2026-01-01 00:10:00", "user_id": 7, "session_id": 1, "level": "paid"},
        {"event_at": "2026-01-01 10:00:00", "user_id": None, "session_id": 2, "auth": "Guest"}])
    rows = sorted(tuple(r) for r in agg_sessions_daily.build(views, ["2025-12-31", "2026-01-01"]).collect())
    assert rows == [(date(2025, 12, 31), "free", 1, 1200.0, 1200.0, 2.0),
                    (date(2026, 1, 1), "free", 1, 0.0, 0.0, 1.0)]
    assert agg_sessions_daily.build(views, ["2026-01-01"]).count() == 1
    assert session_start_dates(["2026-01-01"]) == ["2025-12-31", "2026-01-01"]
    assert len(days_of_months(["2024-02-01"])) == 29


def test_subscription_changes_count_upgrades_downgrades_and_cancellations(spark):
    changes = silver(spark, "status_change_events", [
        {"event_at": "2026-01-01 10:00:00", "user_id": 7},
        {"event_at": "2026-01-01 11:00:00", "user_id": 8, "previous_level": "paid", "new_level": "free",
         "change_type": "downgrade"}])
    views = silver(spark, "page_view_events", [
        {"event_at": "2026-01-01 12:00:00", "user_id": 9, "page": "Cancellation Confirmation"},
        {"event_at": "2026-01-02 12:00:00", "user_id": 9}])
    rows = sorted(tuple(r) for r in agg_subscription_changes_daily.build(changes, views).collect())
    assert rows == [(date(2026, 1, 1), 1, 1, 1), (date(2026, 1, 2), 0, 0, 0)]


def test_page_errors_by_status_beside_the_page_requests(spark):
    views = silver(spark, "page_view_events", [
        {"event_at": "2026-01-01 10:00:00", "user_id": 7, "page": "Error", "http_status": 404},
        {"event_at": "2026-01-01 10:01:00", "user_id": 7, "page": "Error", "http_status": 404},
        {"event_at": "2026-01-01 10:02:00", "user_id": 7, "page": "Home", "http_status": 200},
        {"event_at": "2026-01-01 10:03:00", "user_id": 7, "page": "Home", "http_status": 307}])
    assert [tuple(r) for r in agg_page_errors_daily.build(views).collect()] == [
        (date(2026, 1, 1), "Error", 404, 2, 2)]
