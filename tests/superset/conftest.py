"""The dashboards on test datasources, shared by the live and browser tests of this folder: the
real datasets, charts and dashboards under superset/, repointed at `medley_test_*` Druid
datasources holding tiny inline rows (tests/superset/dashboard_rows.py), so the gold datasources
of the instance stay untouched. Loaded once per session: the Druid loads run in parallel."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

import dashboard_rows as rows
from druid_helpers import COLUMNS, FACT_LISTEN_COLUMNS, submit_replace, wait_served
from medley import superset as assets_lib

PREFIX = "medley test: "
# The dashboards these tests own (Data health has its own tests).
DASHBOARDS = ("overview", "engagement", "subscriptions")
# gold datasource -> (test datasource, rows, columns, rollup or None, rows Druid serves)
LOADS = {
    "agg_listens_hourly": ("medley_test_listens_hourly", rows.ROWS, COLUMNS, None, len(rows.ROWS)),
    "fact_listen": ("medley_test_fact_listen", rows.FACT_ROWS, FACT_LISTEN_COLUMNS, None, len(rows.FACT_ROWS)),
    "fact_page_view": ("medley_test_fact_page_view", rows.PAGE_VIEWS, rows.PAGE_VIEW_COLUMNS, None,
                       len(rows.PAGE_VIEWS)),
    "active_users": ("medley_test_active_users", rows.PAGE_VIEWS, rows.PAGE_VIEW_COLUMNS, rows.ACTIVE_USERS_ROLLUP,
                     rows.ACTIVE_USERS_GROUPS),
    "fact_status_change": ("medley_test_fact_status_change", rows.STATUS_CHANGES, rows.STATUS_CHANGE_COLUMNS, None,
                           len(rows.STATUS_CHANGES)),
    "agg_sessions_daily": ("medley_test_sessions_daily", rows.SESSIONS_DAILY, rows.SESSIONS_COLUMNS, None,
                           len(rows.SESSIONS_DAILY)),
    "agg_subscription_changes_daily": ("medley_test_subscription_changes_daily", rows.SUBSCRIPTION_CHANGES,
                                       rows.SUBSCRIPTION_COLUMNS, None, len(rows.SUBSCRIPTION_CHANGES)),
}
TEST_TABLES = {gold: load[0] for gold, load in LOADS.items()}
# Virtual datasets: Druid SQL over gold datasources, repointed by rewriting the names they read.
VIRTUAL = {"active_users_stickiness": "medley_test_active_users_stickiness"}
TEST_DATASETS = {**TEST_TABLES, **VIRTUAL}


def chart_names(stem: str) -> list[str]:
    """The real chart names on superset/dashboards/<stem>.yml, top to bottom."""
    spec = yaml.safe_load((assets_lib.ASSETS / "dashboards" / f"{stem}.yml").read_text())
    return [n for row in spec["rows"] for n in (row["charts"] if isinstance(row, dict) else row)]


def _repointed(spec: dict) -> dict:
    """A chart or dashboard spec with test names and test datasets."""
    if "slice_name" in spec:
        return {**spec, "dataset": TEST_DATASETS[spec["dataset"]], "slice_name": PREFIX + spec["slice_name"]}
    rows_ = [{**r, "charts": [PREFIX + n for n in r["charts"]]} if isinstance(r, dict) else [PREFIX + n for n in r]
             for r in spec["rows"]]
    filters = [{**f, "dataset": TEST_DATASETS[f["dataset"]]} if "dataset" in f else f for f in spec.get("filters", [])]
    return {**spec, "dashboard_title": PREFIX + spec["dashboard_title"], "slug": f"medley-test-{spec['slug']}",
            "rows": rows_, "filters": filters}


def _test_dataset(gold: str, spec: dict) -> dict:
    if gold in VIRTUAL:
        sql = spec["sql"]
        for table, test_table in TEST_TABLES.items():
            sql = sql.replace(f"FROM {table} ", f"FROM {test_table} ")
        return {**spec, "table_name": VIRTUAL[gold], "sql": sql}
    # Datasets written before their Druid spec carry their columns; the others are derived.
    return {**spec, "table_name": TEST_TABLES[gold], "columns": spec.get("columns") or assets_lib.served_columns(gold)}


@pytest.fixture(scope="session")
def dashboards(live_cfg, tmp_path_factory) -> Path:
    """Load the test rows into Druid and import the repointed assets; returns their root."""
    root = tmp_path_factory.mktemp("superset_assets")
    shutil.copytree(assets_lib.ASSETS / "databases", root / "databases")
    for kind in ("datasets", "charts", "dashboards"):
        (root / kind).mkdir()
    # The dashboards' charts, and every other chart over a loaded datasource (e.g. "Listens per
    # hour", on no dashboard: a chart for exploring, whose numbers the live tests check too).
    charts = {n for stem in DASHBOARDS for n in chart_names(stem)}
    chart_specs = {p.stem: yaml.safe_load(p.read_text()) for p in (assets_lib.ASSETS / "charts").glob("*.yml")}
    chart_specs = {stem: c for stem, c in chart_specs.items() if c["slice_name"] in charts or c["dataset"] in LOADS}
    for gold in {c["dataset"] for c in chart_specs.values()}:
        spec = yaml.safe_load((assets_lib.ASSETS / "datasets" / f"{gold}.yml").read_text())
        (root / "datasets" / f"{TEST_DATASETS[gold]}.yml").write_text(yaml.safe_dump(_test_dataset(gold, spec)))
    for stem, spec in chart_specs.items():
        (root / "charts" / f"{stem}.yml").write_text(yaml.safe_dump(_repointed(spec), allow_unicode=True))
    for stem in DASHBOARDS:
        spec = yaml.safe_load((assets_lib.ASSETS / "dashboards" / f"{stem}.yml").read_text())
        (root / "dashboards" / f"{stem}.yml").write_text(yaml.safe_dump(_repointed(spec), allow_unicode=True))
    tasks = {table: (submit_replace(live_cfg, table, data, columns, rollup), served)
             for table, data, columns, rollup, served in LOADS.values()}
    for table, (task_id, served) in tasks.items():
        wait_served(live_cfg, table, task_id, served)
    assets_lib.provision(live_cfg, root=root)
    return root
