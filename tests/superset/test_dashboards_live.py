"""The Engagement and Subscriptions dashboards for real: imported with their charts and filters,
every chart answers with data, and each number is the one computed by hand from the test rows
(tests/superset/dashboard_rows.py): distinct users as sketch unions, never sums of days."""

from __future__ import annotations

import json

import pytest

import dashboard_rows as rows
from conftest import PREFIX, TEST_TABLES, chart_names
from medley import superset as assets_lib

pytestmark = pytest.mark.services


def data(cfg, name: str) -> list[dict]:
    return assets_lib.chart_data(cfg, PREFIX + name)


@pytest.mark.parametrize("stem", ["engagement", "subscriptions"])
def test_dashboard_is_imported_with_its_charts_and_four_filters(live_cfg, dashboards, stem):
    api = assets_lib.client(live_cfg)
    dashboard = api.request("GET", f"/api/v1/dashboard/medley-test-{stem}")["result"]
    charts = api.request("GET", f"/api/v1/dashboard/{dashboard['id']}/charts")["result"]
    assert sorted(c["slice_name"] for c in charts) == sorted(PREFIX + n for n in chart_names(stem))
    filters = json.loads(dashboard["json_metadata"])["native_filter_configuration"]
    assert [f["name"] for f in filters] == ["Date range", "State", "Level", "Gender"]


@pytest.mark.parametrize("stem", ["engagement", "subscriptions"])
def test_every_chart_shows_data(live_cfg, dashboards, stem):
    for name in chart_names(stem):
        assert data(live_cfg, name), f"{name}: no rows"


def test_active_users_are_distinct_over_the_range_and_per_day_week_month(live_cfg, dashboards):
    assert data(live_cfg, "Active users") == [{"active_users": 30}]
    # A sum of the daily counts would be 55: the union counts each user once.
    assert sum(rows.dau().values()) != 30
    assert {r["__time"]: r["active_users"] for r in data(live_cfg, "Daily active users (DAU)")} == rows.dau()
    assert {r["__time"]: r["active_users"] for r in data(live_cfg, "Weekly active users (WAU)")} == rows.wau()
    assert {r["__time"]: r["active_users"] for r in data(live_cfg, "Monthly active users (MAU)")} == rows.mau()


def test_stickiness_is_each_days_dau_over_its_months_mau(live_cfg, dashboards):
    by_day = {r["__time"]: r["stickiness"] for r in data(live_cfg, "Stickiness per day (DAU/MAU)")}
    assert by_day == pytest.approx(rows.stickiness())
    [kpi] = data(live_cfg, "Stickiness")
    assert kpi["stickiness"] == pytest.approx(sum(rows.stickiness().values()) / len(rows.DAYS))
    [average] = data(live_cfg, "Average DAU")
    assert average["average_dau"] == pytest.approx(sum(rows.dau().values()) / len(rows.DAYS))


def test_sessions_length_and_listens_per_session(live_cfg, dashboards):
    sessions = sum(rows.sessions_per_level().values())
    assert data(live_cfg, "Sessions") == [{"sessions": sessions}]
    [length] = data(live_cfg, "Avg session length")
    assert length["avg_session_min"] == pytest.approx(rows.SESSION_S / 60)
    by_level: dict[str, int] = {}
    for r in data(live_cfg, "Sessions per day"):   # one row per day and level
        by_level[r["level"]] = by_level.get(r["level"], 0) + r["sessions"]
    assert by_level == dict(rows.sessions_per_level())
    [per_session] = data(live_cfg, "Listens per session")
    assert per_session["listens_per_session"] == pytest.approx(len(rows.FACT_ROWS) / rows.FACT_SESSIONS)


def test_subscription_numbers_are_the_rows_numbers(live_cfg, dashboards):
    assert data(live_cfg, "Upgrades") == [{"upgrades": len(rows.UPGRADES)}]
    assert data(live_cfg, "Downgrades") == [{"downgrades": len(rows.DOWNGRADES)}]
    assert data(live_cfg, "Cancellations") == [{"cancellations": len(rows.CANCELS)}]
    [conversion] = data(live_cfg, "Free→paid conversion")
    free_users = rows.users_where(level="free")
    assert conversion["free_to_paid_conversion"] == pytest.approx(len(rows.UPGRADES) / len(free_users))
    [churn] = data(live_cfg, "Churn")
    assert churn["churn"] == pytest.approx(len(rows.CANCELS) / len(rows.users_where()))
    per_day = {r["__time"]: (r["upgrades"], r["downgrades"], r["cancellations"])
               for r in data(live_cfg, "Subscription changes per day")}
    assert per_day == {rows.ms(rows.DAYS[int(d)]): (r["upgrades"], r["downgrades"], r["cancellations"])
                       for d, r in enumerate(rows.SUBSCRIPTION_CHANGES)}
    by_state = {r["state_code"]: r["upgrades"] for r in data(live_cfg, "Upgrades and downgrades by state")}
    expected = {}
    for _, u in rows.UPGRADES:
        state = rows.user(u)["state_code"]
        expected[state] = expected.get(state, 0) + 1
    assert {s: n for s, n in by_state.items() if n} == expected
    assert TEST_TABLES["fact_status_change"] == "medley_test_fact_status_change"
