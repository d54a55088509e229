"""Superset for real: provisioning is idempotent, a chart's numbers are Druid's numbers, and the
Overview dashboard imports with its charts, each of which answers with data."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml

from druid_helpers import FACT_LISTEN_COLUMNS, druid_replace
from medley import druid
from medley import superset as assets_lib

pytestmark = pytest.mark.services

TEST_TABLE = "medley_test_listens_hourly"
TEST_FACT_TABLE = "medley_test_fact_listen"
TEST_TABLES = {"agg_listens_hourly": TEST_TABLE, "fact_listen": TEST_FACT_TABLE}
PREFIX = "medley test: "
# Recent hours: the Overview's time comparison looks at the last 7 days, and compares each hour
# with the same hour one day earlier (EARLIER = LATER - 24 h).
LATER = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
EARLIER = LATER - timedelta(days=1)


def _iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


# Tiny hand-made gold rows: 3 states over 2 hours, one day apart.
ROWS = [
    {"hour": _iso(EARLIER), "song": "A", "artist": "X", "state_code": "CA", "level": "paid",
     "gender": "F", "listen_count": 5, "listen_seconds": 1000.5},
    {"hour": _iso(EARLIER), "song": "B", "artist": "Y", "state_code": "NY", "level": "free",
     "gender": "M", "listen_count": 2, "listen_seconds": 410.0},
    {"hour": _iso(LATER), "song": "A", "artist": "X", "state_code": "CA", "level": "free",
     "gender": "M", "listen_count": 3, "listen_seconds": 600.25},
    {"hour": _iso(LATER), "song": "C", "artist": "Z", "state_code": "TX", "level": "paid",
     "gender": "F", "listen_count": 7, "listen_seconds": 1500.0},
    {"hour": _iso(LATER), "song": "B", "artist": "Y", "state_code": "NY", "level": "paid",
     "gender": "F", "listen_count": 1, "listen_seconds": 200.0},
]
# Listens of LISTENERS users, the first 300 of them twice: enough distinct users that Druid's
# default (HLL) COUNT(DISTINCT) is off, so "Listeners" shows whether the exact setting took.
LISTENERS = 2000
FACT_ROWS = [{"hour": _iso(LATER), "level": "paid" if u % 3 else "free", "auth": "Logged In", "user_id": u,
              "session_id": u, "duration_s": 200.0} for u in range(1, LISTENERS + 1)] + \
            [{"hour": _iso(EARLIER), "level": "free", "auth": "Logged In", "user_id": u, "session_id": 10_000 + u,
              "duration_s": 180.0} for u in range(1, 301)]


def test_provision_twice_keeps_one_copy_of_each_asset(live_cfg):
    api = assets_lib.client(live_cfg)
    kinds = ("chart", "dataset", "database", "dashboard")
    first = assets_lib.provision(live_cfg, api)
    counts = {kind: api.request("GET", f"/api/v1/{kind}/")["count"] for kind in kinds}
    second = assets_lib.provision(live_cfg, api)
    assert first == second
    assert counts == {kind: api.request("GET", f"/api/v1/{kind}/")["count"] for kind in kinds}
    names = [c["slice_name"] for c in api.request("GET", "/api/v1/chart/")["result"]]
    assert {"Listens by state", "Listens per hour", "Listeners"} <= set(names)
    overview = api.request("GET", "/api/v1/dashboard/overview")["result"]
    assert overview["dashboard_title"] == "Overview"
    assert assets_lib.dashboard_ids(api) == {"Overview": overview["id"]}


def _repointed(spec: dict) -> dict:
    """A chart or dashboard spec with test names and test datasets."""
    if "slice_name" in spec:
        return {**spec, "dataset": TEST_TABLES[spec["dataset"]], "slice_name": PREFIX + spec["slice_name"]}
    rows = [{**r, "charts": [PREFIX + n for n in r["charts"]]} if isinstance(r, dict) else [PREFIX + n for n in r]
            for r in spec["rows"]]
    filters = [{**f, "dataset": TEST_TABLES[f["dataset"]]} if "dataset" in f else f for f in spec.get("filters", [])]
    return {**spec, "dashboard_title": PREFIX + spec["dashboard_title"], "slug": f"medley-test-{spec['slug']}",
            "rows": rows, "filters": filters}


@pytest.fixture(scope="module")
def druid_assets(live_cfg, tmp_path_factory) -> Path:
    """The real datasets, charts and dashboards, pointed at test datasources so the gold tables
    stay untouched."""
    root = tmp_path_factory.mktemp("superset_assets")
    shutil.copytree(assets_lib.ASSETS / "databases", root / "databases")
    for kind in ("datasets", "charts", "dashboards"):
        (root / kind).mkdir()
    for gold, test_table in TEST_TABLES.items():
        dataset = yaml.safe_load((assets_lib.ASSETS / "datasets" / f"{gold}.yml").read_text())
        (root / "datasets" / f"{test_table}.yml").write_text(yaml.safe_dump(
            {**dataset, "table_name": test_table, "columns": assets_lib.served_columns(gold)}))
    for kind in ("charts", "dashboards"):
        for path in (assets_lib.ASSETS / kind).glob("*.yml"):
            (root / kind / path.name).write_text(yaml.safe_dump(_repointed(yaml.safe_load(path.read_text()))))
    druid_replace(live_cfg, TEST_TABLE, ROWS)
    druid_replace(live_cfg, TEST_FACT_TABLE, FACT_ROWS, columns=FACT_LISTEN_COLUMNS)
    assets_lib.provision(live_cfg, root=root)
    return root


def test_listens_by_state_matches_druid(live_cfg, druid_assets):
    rows = assets_lib.chart_data(live_cfg, PREFIX + "Listens by state")
    expected = Counter()
    for r in ROWS:
        expected[r["state_code"]] += r["listen_count"]
    assert {r["state_code"]: r["listens"] for r in rows} == dict(expected)
    assert [r["listens"] for r in rows] == sorted(expected.values(), reverse=True)
    in_druid = druid.sql(live_cfg, f'SELECT state_code, SUM(listen_count) AS n FROM "{TEST_TABLE}" GROUP BY 1')
    assert {r["state_code"]: r["n"] for r in in_druid} == dict(expected)


def test_listens_per_hour_matches_druid(live_cfg, druid_assets):
    rows = assets_lib.chart_data(live_cfg, PREFIX + "Listens per hour")
    expected = Counter()
    for r in ROWS:
        hour = datetime.fromisoformat(r["hour"].replace("Z", "+00:00")).astimezone(timezone.utc)
        expected[int(hour.timestamp() * 1000)] += r["listen_count"]
    assert {r["__time"]: r["listens"] for r in rows} == dict(expected)


def _overview_chart_names() -> list[str]:
    spec = yaml.safe_load((assets_lib.ASSETS / "dashboards" / "overview.yml").read_text())
    return [PREFIX + n for row in spec["rows"] for n in (row["charts"] if isinstance(row, dict) else row)]


def test_overview_dashboard_is_imported_with_its_charts_and_filters(live_cfg, druid_assets):
    api = assets_lib.client(live_cfg)
    dashboard = api.request("GET", "/api/v1/dashboard/medley-test-overview")["result"]
    assert dashboard["dashboard_title"] == PREFIX + "Overview"
    charts = api.request("GET", f"/api/v1/dashboard/{dashboard['id']}/charts")["result"]
    assert sorted(c["slice_name"] for c in charts) == sorted(_overview_chart_names())
    # The importer swaps the bundle's local ids and dataset uuids for the imported ones: the
    # filters must name real datasets, and "Listeners" (fact_listen: no state, no gender) must be
    # out of the State and Gender filters' scope by its real id.
    listeners_id = api.request("GET", f"/api/v1/chart/{assets_lib.asset_uuid('chart', PREFIX + 'Listeners')}")[
        "result"]["id"]
    dataset_id = api.request("GET", f"/api/v1/dataset/?q=(filters:!((col:table_name,opr:eq,value:{TEST_TABLE})))")[
        "result"][0]["id"]
    filters = {f["name"]: f for f in json.loads(dashboard["json_metadata"])["native_filter_configuration"]}
    assert set(filters) == {"Date range", "State", "Level", "Gender"}
    for name in ("State", "Level", "Gender"):
        assert filters[name]["targets"][0]["datasetId"] == dataset_id
    assert filters["State"]["scope"]["excluded"] == filters["Gender"]["scope"]["excluded"] == [listeners_id]
    assert filters["Level"]["scope"]["excluded"] == []


def test_every_overview_chart_shows_data(live_cfg, druid_assets):
    for name in _overview_chart_names():
        assert assets_lib.chart_data(live_cfg, name), f"{name}: no rows"


def test_overview_numbers_are_the_rows_numbers(live_cfg, druid_assets):
    def data(name: str) -> list[dict]:
        return assets_lib.chart_data(live_cfg, PREFIX + name)

    assert data("Listens") == [{"listens": sum(r["listen_count"] for r in ROWS)}]
    [hours] = data("Listening hours")
    assert hours["listen_hours"] == pytest.approx(sum(r["listen_seconds"] for r in ROWS) / 3600)
    assert data("Listeners") == [{"listeners": LISTENERS}]
    approximate = druid.sql(live_cfg, f'SELECT COUNT(DISTINCT user_id) AS n FROM "{TEST_FACT_TABLE}"')[0]["n"]
    assert approximate != LISTENERS, "Druid's default count is exact here: the Listeners check proves nothing"

    by_hour = {r["__time"]: r for r in data("Listens vs. the day before")}
    later = by_hour[int(LATER.timestamp() * 1000)]
    assert later["listens"] == sum(r["listen_count"] for r in ROWS if r["hour"] == _iso(LATER))
    assert later["listens__1 day ago"] == sum(r["listen_count"] for r in ROWS if r["hour"] == _iso(EARLIER))

    by_state = Counter()
    for r in ROWS:
        by_state[f"US-{r['state_code']}"] += r["listen_count"]
    assert {r["state_iso"]: r["listens"] for r in data("Listens by state (map)")} == dict(by_state)
    by_artist = Counter()
    for r in ROWS:
        by_artist[r["artist"]] += r["listen_count"]
    assert [(r["artist"], r["listens"]) for r in data("Top artists")] == by_artist.most_common()
    assert data("Top songs")[0] == {"song": "A", "artist": "X", "listens": 8,
                                    "listen_hours": pytest.approx((1000.5 + 600.25) / 3600)}
    for column, chart in (("level", "Listens by level"), ("gender", "Listens by gender")):
        expected = Counter()
        for r in ROWS:
            expected[r[column]] += r["listen_count"]
        assert {r[column]: r["listens"] for r in data(chart)} == dict(expected)
    expected_hours = Counter()
    for r in ROWS:
        expected_hours[int(r["hour"][11:13])] += r["listen_count"]
    assert {r["hour_of_day"]: r["listens"] for r in data("Listens by hour of day")} == dict(expected_hours)
