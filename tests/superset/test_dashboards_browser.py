"""The dashboards as a person sees them, in headless Chromium (medley/browser.py): every chart on
Overview, Engagement and Subscriptions draws its data without an error, and choosing Level = paid
in a filter changes the numbers. Runs on the test dashboards of tests/superset/conftest.py."""

from __future__ import annotations

import pytest

import dashboard_rows as rows
from conftest import DASHBOARDS, PREFIX, chart_names
from medley import browser

pytestmark = pytest.mark.services

SLUGS = [f"medley-test-{stem.replace('_', '-')}" for stem in DASHBOARDS]


def test_every_chart_of_every_dashboard_draws_its_data(live_cfg, dashboards, tmp_path):
    # superset_check_dashboards raises naming each chart that errs, is empty or draws nothing.
    report = browser.superset_check_dashboards(live_cfg, SLUGS, screenshots=tmp_path)
    for stem, slug in zip(DASHBOARDS, SLUGS):
        assert sorted(report[slug]) == sorted(PREFIX + n for n in chart_names(stem)), slug
        assert (tmp_path / f"superset-{slug}.png").stat().st_size > 10_000


def test_level_filter_changes_the_numbers(live_cfg, dashboards):
    with browser.page() as page:
        browser.superset_login(page, live_cfg)
        browser.superset_dashboard(page, live_cfg, "medley-test-engagement")
        everyone = browser.superset_big_number(page, PREFIX + "Active users")
        browser.superset_select_filter(page, "Level", "paid")
        paid = browser.superset_big_number(page, PREFIX + "Active users")
    assert everyone == str(len(rows.users_where()))
    assert paid == str(len(rows.users_where(level="paid")))
