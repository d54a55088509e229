"""Superset for real: provisioning is idempotent, and a chart's numbers are Druid's numbers."""

from __future__ import annotations

import shutil
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import pytest
import yaml

from druid_helpers import druid_replace
from medley import druid
from medley import superset as assets_lib

pytestmark = pytest.mark.services

TEST_TABLE = "medley_test_listens_hourly"
# Tiny hand-made gold rows: 3 states over 2 hours.
ROWS = [
    {"hour": "2026-01-01T10:00:00Z", "song": "A", "artist": "X", "state_code": "CA", "level": "paid",
     "gender": "F", "listen_count": 5, "listen_seconds": 1000.5},
    {"hour": "2026-01-01T10:00:00Z", "song": "B", "artist": "Y", "state_code": "NY", "level": "free",
     "gender": "M", "listen_count": 2, "listen_seconds": 410.0},
    {"hour": "2026-01-01T11:00:00Z", "song": "A", "artist": "X", "state_code": "CA", "level": "free",
     "gender": "M", "listen_count": 3, "listen_seconds": 600.25},
    {"hour": "2026-01-01T11:00:00Z", "song": "C", "artist": "Z", "state_code": "TX", "level": "paid",
     "gender": "F", "listen_count": 7, "listen_seconds": 1500.0},
    {"hour": "2026-01-01T11:00:00Z", "song": "B", "artist": "Y", "state_code": "NY", "level": "paid",
     "gender": "F", "listen_count": 1, "listen_seconds": 200.0},
]


def test_provision_twice_keeps_one_copy_of_each_asset(live_cfg):
    api = assets_lib.client(live_cfg)
    first = assets_lib.provision(live_cfg, api)
    counts = {kind: api.request("GET", f"/api/v1/{kind}/")["count"] for kind in ("chart", "dataset", "database")}
    second = assets_lib.provision(live_cfg, api)
    assert first == second
    assert counts == {kind: api.request("GET", f"/api/v1/{kind}/")["count"]
                      for kind in ("chart", "dataset", "database")}
    names = [c["slice_name"] for c in api.request("GET", "/api/v1/chart/")["result"]]
    assert {"Listens by state", "Listens per hour"} <= set(names)


@pytest.fixture(scope="module")
def druid_assets(live_cfg, tmp_path_factory) -> Path:
    """The real dataset and charts, pointed at a test datasource so the gold table stays untouched."""
    root = tmp_path_factory.mktemp("superset_assets")
    shutil.copytree(assets_lib.ASSETS / "databases", root / "databases")
    (root / "datasets").mkdir()
    (root / "charts").mkdir()
    dataset = yaml.safe_load((assets_lib.ASSETS / "datasets" / "agg_listens_hourly.yml").read_text())
    (root / "datasets" / f"{TEST_TABLE}.yml").write_text(yaml.safe_dump(
        {**dataset, "table_name": TEST_TABLE, "columns": assets_lib.served_columns("agg_listens_hourly")}))
    for chart in (assets_lib.ASSETS / "charts").glob("*.yml"):
        spec = yaml.safe_load(chart.read_text())
        spec.update(dataset=TEST_TABLE, slice_name=f"medley test: {spec['slice_name']}")
        (root / "charts" / chart.name).write_text(yaml.safe_dump(spec))
    druid_replace(live_cfg, TEST_TABLE, ROWS)
    assets_lib.provision(live_cfg, root=root)
    return root


def test_listens_by_state_matches_druid(live_cfg, druid_assets):
    rows = assets_lib.chart_data(live_cfg, "medley test: Listens by state")
    expected = Counter()
    for r in ROWS:
        expected[r["state_code"]] += r["listen_count"]
    assert {r["state_code"]: r["listens"] for r in rows} == dict(expected)
    assert [r["listens"] for r in rows] == sorted(expected.values(), reverse=True)
    in_druid = druid.sql(live_cfg, f'SELECT state_code, SUM(listen_count) AS n FROM "{TEST_TABLE}" GROUP BY 1')
    assert {r["state_code"]: r["n"] for r in in_druid} == dict(expected)


def test_listens_per_hour_matches_druid(live_cfg, druid_assets):
    rows = assets_lib.chart_data(live_cfg, "medley test: Listens per hour")
    expected = Counter()
    for r in ROWS:
        hour = datetime.fromisoformat(r["hour"].replace("Z", "+00:00")).astimezone(timezone.utc)
        expected[int(hour.timestamp() * 1000)] += r["listen_count"]
    assert {r["__time"]: r["listens"] for r in rows} == dict(expected)
