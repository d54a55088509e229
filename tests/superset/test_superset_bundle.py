"""The import bundle built from superset/*.yml: layout, config-driven URI, stable uuids, clear errors."""

from __future__ import annotations

import io
import json
import re
import shutil
import zipfile

import pytest
import yaml

from medley import REPO_ROOT, config, druid
from medley import superset as assets_lib
from medley.errors import MedleyError


def test_bundle_has_export_layout_and_every_asset():
    cfg = config.load()
    with zipfile.ZipFile(io.BytesIO(assets_lib.bundle(cfg))) as zf:
        names = zf.namelist()
        meta = yaml.safe_load(zf.read("medley_assets/metadata.yaml"))
        chart = yaml.safe_load(zf.read("medley_assets/charts/listens_by_state.yaml"))
    assert meta["version"] == "1.0.0" and meta["type"] == "assets"
    assert {"medley_assets/databases/druid.yaml", "medley_assets/datasets/agg_listens_hourly.yaml",
            "medley_assets/charts/listens_per_hour.yaml"} <= set(names)
    assert chart["dataset_uuid"] == assets_lib.asset_uuid("dataset", "agg_listens_hourly")


def test_druid_uri_comes_from_config():
    cfg = config.load({"MEDLEY_SERVICES__DRUID__BROKER_PORT": "18082"})
    database = assets_lib.assets(cfg)["databases/druid.yaml"]
    assert database["sqlalchemy_uri"] == "druid://127.0.0.1:18082/druid/v2/sql/"
    in_cluster = config.load({"MEDLEY_SERVICES__DRUID__URL": "http://medley-druid-router:8888"})
    assert (assets_lib.assets(in_cluster)["databases/druid.yaml"]["sqlalchemy_uri"]
            == "druid://medley-druid-router:8888/druid/v2/sql/")


def test_uuids_are_stable_across_builds():
    cfg = config.load()
    first, second = assets_lib.assets(cfg), assets_lib.assets(cfg)
    for path in first:
        if path != "metadata.yaml":
            assert first[path]["uuid"] == second[path]["uuid"], path


def test_dataset_columns_and_time_axis():
    dataset = assets_lib.assets(config.load())["datasets/agg_listens_hourly.yaml"]
    types = {c["column_name"]: c["type"] for c in dataset["columns"]}
    assert types["__time"] == "TIMESTAMP" and types["listen_count"] == "BIGINT"
    assert [c["column_name"] for c in dataset["columns"] if c["is_dttm"]] == [dataset["main_dttm_col"]]


def test_chart_with_undefined_metric_is_rejected(tmp_path):
    shutil.copytree(assets_lib.ASSETS, tmp_path / "assets")
    chart = tmp_path / "assets" / "charts" / "listens_by_state.yml"
    spec = yaml.safe_load(chart.read_text())
    chart.write_text(yaml.safe_dump({**spec, "metrics": ["no_such_metric"]}))
    with pytest.raises(MedleyError, match="no_such_metric"):
        assets_lib.assets(config.load(), tmp_path / "assets")


def _charts_on(dashboard: dict) -> list[dict]:
    return [node for node in dashboard["position"].values() if isinstance(node, dict) and node["type"] == "CHART"]


def _by_uuid(files: dict, kind: str) -> dict[str, dict]:
    return {config["uuid"]: config for path, config in files.items() if path.startswith(f"{kind}/")}


def test_dashboards_show_only_bundled_charts_on_bundled_datasets():
    files = assets_lib.assets(config.load())
    charts, datasets = _by_uuid(files, "charts"), _by_uuid(files, "datasets")
    dashboards = _by_uuid(files, "dashboards")
    assert dashboards, "no dashboard in superset/dashboards"
    for dashboard in dashboards.values():
        on_it = _charts_on(dashboard)
        assert on_it, dashboard["dashboard_title"]
        for node in on_it:
            chart = charts.get(node["meta"]["uuid"])
            assert chart is not None, f"{dashboard['dashboard_title']}: {node['meta']['sliceName']} is not bundled"
            assert chart["slice_name"] == node["meta"]["sliceName"]
            assert chart["dataset_uuid"] in datasets, chart["slice_name"]


def test_dashboard_layout_is_a_tree_within_the_grid():
    for dashboard in _by_uuid(assets_lib.assets(config.load()), "dashboards").values():
        position = dashboard["position"]
        for node_id, node in position.items():
            if not isinstance(node, dict) or node["type"] == "HEADER":
                continue
            assert node["id"] == node_id
            for child in node["children"]:
                assert position[child]["parents"] == node.get("parents", []) + [node_id], child
        for row in (n for n in position.values() if isinstance(n, dict) and n["type"] == "ROW"):
            assert sum(position[c]["meta"]["width"] for c in row["children"]) <= 12, row["id"]
        local_ids = [n["meta"]["chartId"] for n in _charts_on(dashboard)]
        assert len(set(local_ids)) == len(local_ids)


def test_native_filters_target_dataset_columns_and_skip_charts_without_them():
    files = assets_lib.assets(config.load())
    charts, datasets = _by_uuid(files, "charts"), _by_uuid(files, "datasets")
    for dashboard in _by_uuid(files, "dashboards").values():
        dataset_of = {n["meta"]["chartId"]: datasets[charts[n["meta"]["uuid"]]["dataset_uuid"]]
                      for n in _charts_on(dashboard)}
        for flt in dashboard["metadata"]["native_filter_configuration"]:
            if flt["filterType"] == "filter_time":
                assert flt["scope"]["excluded"] == []
                continue
            [target] = flt["targets"]
            column = target["column"]["name"]
            assert column in {c["column_name"] for c in datasets[target["datasetUuid"]]["columns"]}, flt["name"]
            for local_id, dataset in dataset_of.items():
                has_column = column in {c["column_name"] for c in dataset["columns"]}
                assert has_column == (local_id not in flt["scope"]["excluded"]), (flt["name"], local_id)


def test_overview_has_the_kpis_and_the_four_filters():
    overview = assets_lib.assets(config.load())["dashboards/overview.yaml"]
    names = {n["meta"]["sliceName"] for n in _charts_on(overview)}
    assert {"Listens", "Listening hours", "Listeners", "Listens vs. the day before", "Listens by state (map)",
            "Top songs", "Top artists", "Listens by level", "Listens by gender", "Listens by hour of day"} <= names
    filters = {f["name"]: f for f in overview["metadata"]["native_filter_configuration"]}
    assert filters["Date range"]["filterType"] == "filter_time"
    assert {f["targets"][0]["column"]["name"] for n, f in filters.items() if n != "Date range"} == \
        {"state_code", "level", "gender"}
    assert overview["uuid"] == assets_lib.asset_uuid("dashboard", "Overview")


def test_distinct_listeners_are_counted_exactly():
    files = assets_lib.assets(config.load())
    context = files["databases/druid.yaml"]["extra"]["engine_params"]["connect_args"]["context"]
    assert context["useApproximateCountDistinct"] is False
    metrics = {m["metric_name"]: m["expression"] for m in files["datasets/fact_listen.yaml"]["metrics"]}
    assert metrics["listeners"] == "COUNT(DISTINCT user_id)"


def test_time_comparison_query_has_a_closed_range():
    chart = assets_lib.assets(config.load())["charts/listens_vs_day_before.yaml"]
    [query] = json.loads(chart["query_context"])["queries"]
    assert query["time_offsets"] == ["1 day ago"] and chart["params"]["time_compare"] == ["1 day ago"]
    assert ":" in query["time_range"] and query["filters"][0]["op"] == "TEMPORAL_RANGE"


def _edit(root, kind: str, stem: str, **changes) -> None:
    path = root / kind / f"{stem}.yml"
    path.write_text(yaml.safe_dump({**yaml.safe_load(path.read_text()), **changes}))


@pytest.mark.parametrize(("kind", "stem", "changes", "named"), [
    ("dashboards", "overview", {"rows": [["Listens", "No such chart"]]}, "No such chart"),
    ("dashboards", "overview", {"filters": [{"name": "City", "dataset": "agg_listens_hourly", "column": "city"}]},
     "city"),
    ("dashboards", "overview", {"filters": [{"name": "State", "dataset": "no_such_dataset", "column": "state"}]},
     "no_such_dataset"),
    ("charts", "top_songs", {"groupby": ["song", "album"]}, "album"),
    ("datasets", "fact_listen", {"column_labels": {"album": "Album"}}, "album"),
])
def test_broken_references_are_rejected(tmp_path, kind, stem, changes, named):
    shutil.copytree(assets_lib.ASSETS, tmp_path / "assets")
    _edit(tmp_path / "assets", kind, stem, **changes)
    with pytest.raises(MedleyError, match=named):
        assets_lib.assets(config.load(), tmp_path / "assets")


def _dataset_specs() -> dict[str, dict]:
    return {p.stem: yaml.safe_load(p.read_text()) for p in sorted((assets_lib.ASSETS / "datasets").glob("*.yml"))}


def test_written_columns_are_the_druid_specs_once_it_exists():
    """Datasets written before their Druid spec list their columns; once druid_specs/<table>.json
    exists, the list must be what Druid serves (name and type), or charts would query columns
    that are not there."""
    checked = 0
    for stem, spec in _dataset_specs().items():
        if stem.startswith("data_health"):
            continue  # helper C's datasets: ops tables without a gold contract
        if "columns" not in spec or spec.get("sql") or not (druid.SPECS_DIR / f"{spec['table_name']}.json").exists():
            continue
        written = {(c["name"], c["type"]) for c in spec["columns"]}
        served = {(c["name"], c["type"]) for c in assets_lib.served_columns(spec["table_name"])}
        assert written == served, f"superset/datasets/{stem}.yml: {sorted(written ^ served)}"
        checked += 1
    assert checked or not any((druid.SPECS_DIR / f"{t}.json").exists() for t in ("active_users", "fact_page_view"))


def test_every_metric_is_labelled_formatted_and_described():
    for stem, spec in _dataset_specs().items():
        if stem.startswith("data_health"):
            continue  # helper C's datasets
        for metric in spec.get("metrics", []):
            assert metric.get("verbose_name") and metric.get("d3format"), (stem, metric["name"])
        assert spec.get("description"), stem


def test_distinct_users_over_a_range_come_from_sketch_unions():
    """Summing daily distinct counts counts a user once per day: every active-users number on the
    Engagement dashboard is a theta-sketch union (or a per-day value of one)."""
    metrics = {m["name"]: m["expression"] for m in _dataset_specs()["active_users"]["metrics"]}
    assert metrics["active_users"] == "THETA_SKETCH_ESTIMATE(DS_THETA(users))"
    stickiness = _dataset_specs()["active_users_stickiness"]
    assert stickiness["sql"].count("THETA_SKETCH_ESTIMATE(DS_THETA(users))") == 2
    files = assets_lib.assets(config.load())
    grains = {c["slice_name"]: c["params"].get("time_grain_sqla") for c in _by_uuid(files, "charts").values()
              if c["dataset_uuid"] == assets_lib.asset_uuid("dataset", "active_users")}
    assert grains == {"Active users": None, "Daily active users (DAU)": "P1D", "Weekly active users (WAU)": "P1W",
                      "Monthly active users (MAU)": "P1M"}


def test_virtual_dataset_carries_its_sql():
    dataset = assets_lib.assets(config.load())["datasets/active_users_stickiness.yaml"]
    assert dataset["sql"].startswith("SELECT") and dataset["main_dttm_col"] == "__time"
    assert {c["column_name"] for c in dataset["columns"]} == {"__time", "dau", "mau", "stickiness"}


@pytest.mark.parametrize(("stem", "title", "charts"), [
    ("engagement", "Engagement", {"Active users", "Average DAU", "Stickiness", "Sessions", "Avg session length",
                                  "Listens per session", "Daily active users (DAU)", "Weekly active users (WAU)",
                                  "Monthly active users (MAU)", "Stickiness per day (DAU/MAU)", "Sessions per day",
                                  "Session length per day", "Listens per session per day"}),
    ("subscriptions", "Subscriptions", {"Upgrades", "Downgrades", "Cancellations", "Free→paid conversion", "Churn",
                                        "Subscription changes per day", "Free→paid conversion per day",
                                        "Churn per day", "Upgrades and downgrades by state"}),
])
def test_engagement_and_subscriptions_have_their_charts_and_four_filters(stem, title, charts):
    dashboard = assets_lib.assets(config.load())[f"dashboards/{stem}.yaml"]
    assert dashboard["dashboard_title"] == title
    assert {n["meta"]["sliceName"] for n in _charts_on(dashboard)} == charts
    filters = {f["name"]: f for f in dashboard["metadata"]["native_filter_configuration"]}
    assert set(filters) == {"Date range", "State", "Level", "Gender"}
    assert [f["targets"][0]["column"]["name"] for n, f in filters.items() if n != "Date range"] == \
        ["state_code", "level", "gender"]


def test_helm_chart_has_the_same_analyst_role():
    """superset/roles/analyst.yml is the one definition; the chart's FAB_ROLES must say the same."""
    role = assets_lib.analyst_role()
    template = (REPO_ROOT / "helm" / "medley-core" / "templates" / "superset" / "configmap.yaml").read_text()
    template = template.replace("{{ .Values.superset.druidDatabase }}", "Druid")
    assert [list(p) for p in re.findall(r'^\s*\[r"(.*)", r"(.*)"\],$', template, re.M)] == role["permissions"]
    values = yaml.safe_load((REPO_ROOT / "helm" / "medley-core" / "values.yaml").read_text())
    assert values["superset"]["analystRole"] == role["name"]


def test_analyst_role_reads_gold_datasets_only():
    [datasets] = [re.compile(view) for view, perm in assets_lib.analyst_role()["permissions"]
                  if perm == "datasource_access"]
    for gold in ("fact_listen", "dim_user", "agg_sessions_daily", "active_users", "active_users_stickiness"):
        assert datasets.match(f"[Druid].[{gold}](id:12)"), gold
    for other in ("silver_listen_events", "listen_events", "bronze_events", "data_health", "medley_test_fact_listen"):
        assert not datasets.match(f"[Druid].[{other}](id:12)"), other
    pairs = assets_lib.analyst_role()["permissions"]

    def granted(resource: str, permission: str) -> bool:
        return any(re.match(r, resource) and re.match(p, permission) for r, p in pairs)

    for resource, permission in (("all_datasource_access", "all_datasource_access"),
                                 ("all_database_access", "all_database_access"), ("SQLLab", "can_read"),
                                 ("Superset", "can_sqllab"), ("[Druid].[druid]", "schema_access"),
                                 ("[Druid].(id:1)", "database_access"), ("Dashboard", "can_write"),
                                 ("Chart", "can_write"), ("Dataset", "can_write"), ("Database", "can_read")):
        assert not granted(resource, permission), (resource, permission)
    assert granted("Dashboard", "can_read") and granted("Superset", "can_dashboard")


def test_local_superset_config_carries_the_analyst_role(tmp_path, monkeypatch):
    from medley.services import superset as superset_service

    cfg = config.load({"MEDLEY_PATHS__STATE_DIR": str(tmp_path / "state"),
                       "MEDLEY_PATHS__DATA_DIR": str(tmp_path / "data")})
    monkeypatch.setenv("SUPERSET_SECRET_KEY", "x" * 32)
    scope: dict = {}
    exec(compile(superset_service.render_config(cfg).read_text(), "superset_config.py", "exec"), scope)  # noqa: S102
    assert scope["FAB_ROLES"] == assets_lib.fab_roles()
