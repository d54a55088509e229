"""Superset assets as code: superset/**/*.yml -> a v1 import bundle -> POST /api/v1/assets/import/.

superset/databases, superset/datasets, superset/charts and superset/dashboards hold one compact YAML
file per asset. This module expands them into Superset's export layout (metadata.yaml + databases/
datasets/ charts/ dashboards/), fills in what comes from config (the Druid URI), and derives every
uuid from the asset's name, so a re-import overwrites the same assets instead of adding copies.
"""

from __future__ import annotations

import io
import json
import re
import uuid
import zipfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
import yaml

from medley import REPO_ROOT
from medley.config import Config
from medley.console import say, table
from medley.errors import MedleyError, ServiceFailed
from medley.services import superset as superset_service

ASSETS = REPO_ROOT / "superset"
EXPORT_VERSION = "1.0.0"
NAMESPACE = uuid.UUID("6f1d7c9e-2b7a-4e0c-9a51-3d2f0c8e5b41")  # fixed: uuids must not change
# Gold contract types -> the SQL types Druid reports for them.
SQL_TYPES = {"timestamp": "TIMESTAMP", "string": "VARCHAR", "long": "BIGINT", "int": "BIGINT", "double": "DOUBLE",
             "boolean": "BOOLEAN"}


def asset_uuid(kind: str, name: str) -> str:
    return str(uuid.uuid5(NAMESPACE, f"{kind}:{name}"))


def sqlalchemy_uri(cfg: Config, engine: str) -> str:
    if engine != "druid":
        raise MedleyError(f"superset/databases: unknown engine '{engine}'", "use engine: druid")
    given = urlsplit(cfg.get("services.druid.url") or "")
    if given.netloc:  # a cluster's Druid: its router, which proxies SQL to the brokers
        return f"{'druid+https' if given.scheme == 'https' else 'druid'}://{given.netloc}/druid/v2/sql/"
    # this machine's: the broker itself, one proxy hop less per chart query
    return f"druid://127.0.0.1:{cfg.port('druid', 'broker_port')}/druid/v2/sql/"


def _specs(root: Path, kind: str) -> dict[str, dict]:
    """stem -> spec for every <root>/<kind>/*.yml."""
    return {f.stem: yaml.safe_load(f.read_text()) for f in sorted((root / kind).glob("*.yml"))}


def _database(cfg: Config, spec: dict) -> dict:
    return {
        "database_name": spec["database_name"],
        "sqlalchemy_uri": sqlalchemy_uri(cfg, spec["engine"]),
        "expose_in_sqllab": spec.get("expose_in_sqllab", True),
        "allow_run_async": spec.get("allow_run_async", False),
        "allow_ctas": False, "allow_cvas": False, "allow_dml": False, "allow_csv_upload": False,
        # Druid SQL query context on every query Superset sends (e.g. exact COUNT(DISTINCT));
        # SQLAlchemy passes connect_args over the dialect's own arguments to pydruid.connect.
        "extra": {"allows_virtual_table_explore": True,
                  "engine_params": {"connect_args": {"context": spec.get("context") or {}}}},
        "uuid": asset_uuid("database", spec["database_name"]),
        "version": EXPORT_VERSION,
    }


# Druid column and metric types -> the contract types Superset's columns are typed by. Sketch
# metrics (thetaSketch, HLLSketchBuild) are complex columns: only metrics read them.
DRUID_COLUMN_TYPES = {"string": "string", "long": "long", "double": "double", "float": "double",
                      "count": "long", "longSum": "long", "longMin": "long", "longMax": "long",
                      "doubleSum": "double", "doubleMin": "double", "doubleMax": "double"}


def served_columns(table_name: str) -> list[dict]:
    """A Druid datasource's columns as Superset sees them: __time, then the Druid spec's dimensions
    and metrics (sketches left out), typed as Druid serves them and described by the gold contract
    of the table they come from: the spec's source (its own name, or `medley.source`), or a
    dimension that source references (the denormalised song, state, gender), or `medley.from`."""
    from medley import druid
    from medley.contracts import contract

    spec = druid.load_spec(table_name)
    schema = spec["spec"]["dataSchema"]
    notes = spec.get("medley") or {}
    source = contract(f"gold/{notes.get('source', f'gold.{table_name}').removeprefix('gold.')}")
    dims = [contract(f"gold/{c.references.split('.')[0]}") for c in source.columns if c.references]

    def description(name: str) -> str | None:
        if name in (notes.get("from") or {}):
            table, column = notes["from"][name].split(".")
            return contract(f"gold/{table}").column(column).description or None
        for c in [source] + dims:
            if name in c.column_names:
                return c.column(name).description or None
        return None

    columns = [{"name": "__time", "type": "timestamp",
                "description": description(schema["timestampSpec"]["column"])}]
    for d in schema["dimensionsSpec"]["dimensions"]:
        name, kind = (d, "string") if isinstance(d, str) else (d["name"], d.get("type", "string"))
        columns.append({"name": name, "type": DRUID_COLUMN_TYPES[kind], "description": description(name)})
    for m in schema["metricsSpec"]:
        if m["type"] in DRUID_COLUMN_TYPES:
            columns.append({"name": m["name"], "type": DRUID_COLUMN_TYPES[m["type"]],
                            "description": description(m.get("fieldName", m["name"]))})
    return columns


def _dataset(spec: dict, databases: set[str], where: str) -> dict:
    if spec["database"] not in databases:
        raise MedleyError(f"{where}: unknown database '{spec['database']}'",
                          f"use one of {sorted(databases)} (superset/databases/*.yml)")
    columns = []
    labels = spec.get("column_labels") or {}
    served = spec.get("columns") or served_columns(spec["table_name"])
    unknown = sorted(set(labels) - {c["name"] for c in served})
    if unknown:
        raise MedleyError(f"{where}: column_labels name columns {unknown} the datasource does not serve",
                          "label only columns of the Druid spec (druid_specs/)")
    # calculated_columns are SQL expressions Superset computes in Druid SQL at query time.
    for col in served + (spec.get("calculated_columns") or []):
        if col["type"] not in SQL_TYPES:
            raise MedleyError(f"{where}: column {col['name']} has unknown type '{col['type']}'",
                              f"use one of {sorted(SQL_TYPES)}")
        columns.append({"column_name": col["name"], "type": SQL_TYPES[col["type"]],
                        "is_dttm": col["type"] == "timestamp", "groupby": True, "filterable": True,
                        "expression": col.get("expression"),
                        "description": col.get("description"),
                        "verbose_name": col.get("verbose_name") or labels.get(col["name"])})
    metrics = [{"metric_name": m["name"], "expression": m["expression"],
                "verbose_name": m.get("verbose_name"), "d3format": m.get("d3format"),
                "description": m.get("description")} for m in spec.get("metrics", [])]
    return {
        "table_name": spec["table_name"],
        "schema": spec.get("schema"),
        # A virtual dataset: Druid SQL that Superset wraps as a subquery (its columns are listed).
        "sql": spec.get("sql"),
        "main_dttm_col": spec.get("main_dttm_col"),
        "description": spec.get("description"),
        "filter_select_enabled": True,
        "columns": columns,
        "metrics": metrics,
        "uuid": asset_uuid("dataset", spec["table_name"]),
        "database_uuid": asset_uuid("database", spec["database"]),
        "version": EXPORT_VERSION,
    }


# Chart types whose form data takes one `metric` instead of a `metrics` list.
SINGLE_METRIC = {"big_number_total", "pie", "country_map"}
TIME_COLUMN = "__time"


def _chart(spec: dict, datasets: dict[str, dict], where: str) -> dict:
    dataset = datasets.get(spec["dataset"])
    if dataset is None:
        raise MedleyError(f"{where}: unknown dataset '{spec['dataset']}'",
                          f"use one of {sorted(datasets)} (superset/datasets/*.yml)")
    metrics = [spec["metric"]] if "metric" in spec else spec["metrics"]
    known = {m["metric_name"] for m in dataset["metrics"]}
    missing = [m for m in metrics if m not in known]
    if missing:
        raise MedleyError(f"{where}: metrics {missing} are not defined on {spec['dataset']}",
                          f"add them to superset/datasets/{spec['dataset']}.yml")
    x_axis, groupby = spec.get("x_axis"), spec.get("groupby") or []
    columns = {c["column_name"] for c in dataset["columns"]}
    unknown = [c for c in ([x_axis] if x_axis else []) + groupby if c not in columns]
    if unknown:
        raise MedleyError(f"{where}: columns {unknown} are not columns of {spec['dataset']}",
                          f"use one of {sorted(columns)}")
    query_columns: list = list(groupby)
    if x_axis:
        axis = {"columnType": "BASE_AXIS", "expressionType": "SQL", "label": x_axis, "sqlExpression": x_axis}
        if spec.get("time_grain"):
            axis["timeGrain"] = spec["time_grain"]
        query_columns.insert(0, axis)
    order_by = []
    if spec.get("order_by"):
        name, direction = spec["order_by"].split()
        order_by = [[name, direction.lower() == "asc"]]
    time_range = spec.get("time_range", "No filter")
    # The time range is a TEMPORAL_RANGE filter on the time column, as Explore saves it; a
    # dashboard's time filter replaces its value.
    time_filters = [] if time_range == "No filter" else [
        {"clause": "WHERE", "subject": TIME_COLUMN, "operator": "TEMPORAL_RANGE", "comparator": time_range,
         "expressionType": "SIMPLE"}]
    # form_data drives rendering in the browser; the query below is what /chart/<id>/data/ runs.
    form_data = {"viz_type": spec["viz_type"], "groupby": groupby, "adhoc_filters": time_filters,
                 "row_limit": spec.get("row_limit", 1000), "time_range": time_range}
    if spec["viz_type"] in SINGLE_METRIC:
        form_data["metric"] = metrics[0]
    else:
        form_data["metrics"] = metrics
    if x_axis:
        form_data["x_axis"] = x_axis
    if spec.get("time_grain"):
        form_data["time_grain_sqla"] = spec["time_grain"]
    if spec.get("time_compare"):
        # Each offset adds a series shifted by it: the previous period next to this one.
        form_data.update(time_compare=spec["time_compare"], comparison_type="values")
    if spec["viz_type"] == "table" and order_by:
        form_data.update(query_mode="aggregate", timeseries_limit_metric=order_by[0][0],
                         order_desc=not order_by[0][1])
    form_data.update(spec.get("params", {}))
    query = {"columns": query_columns, "metrics": metrics, "orderby": order_by,
             "row_limit": form_data["row_limit"], "time_range": time_range,
             "filters": [{"col": TIME_COLUMN, "op": "TEMPORAL_RANGE", "val": time_range}] if time_filters else [],
             "extras": {"having": "", "where": ""}}
    if spec.get("time_compare"):
        query["time_offsets"] = spec["time_compare"]
    # The importer rewrites the datasource ids to the imported dataset's.
    query_context = {"datasource": {"id": 0, "type": "table"}, "force": False, "queries": [query],
                     "form_data": form_data, "result_format": "json", "result_type": "full"}
    return {
        "slice_name": spec["slice_name"],
        "description": spec.get("description"),
        "viz_type": spec["viz_type"],
        "params": form_data,
        "query_context": json.dumps(query_context),
        "uuid": asset_uuid("chart", spec["slice_name"]),
        "dataset_uuid": dataset["uuid"],
        "version": EXPORT_VERSION,
    }


# Superset's dashboard grid is 12 columns wide; a chart's height is in grid units of 8 px.
GRID_WIDTH = 12
DEFAULT_HEIGHT = 50


def _position(title: str, rows: list, charts: dict[str, dict], where: str) -> tuple[dict, dict[str, int]]:
    """Superset's position tree (ROOT > GRID > ROW > CHART) from rows of chart names, each row
    split evenly; returns it and slice_name -> the local chart id used in it (the importer maps
    these ids to the imported charts' through the uuids)."""
    position: dict[str, Any] = {
        "DASHBOARD_VERSION_KEY": "v2",
        "ROOT_ID": {"type": "ROOT", "id": "ROOT_ID", "children": ["GRID_ID"]},
        "GRID_ID": {"type": "GRID", "id": "GRID_ID", "children": [], "parents": ["ROOT_ID"]},
        "HEADER_ID": {"type": "HEADER", "id": "HEADER_ID", "meta": {"text": title}},
    }
    local_ids: dict[str, int] = {}
    for n, row in enumerate(rows, start=1):
        names, height = (row["charts"], row.get("height", DEFAULT_HEIGHT)) if isinstance(row, dict) \
            else (row, DEFAULT_HEIGHT)
        if not names or len(names) > GRID_WIDTH // 2:
            raise MedleyError(f"{where}: row {n} has {len(names)} charts", "put 1 to 6 charts in a row")
        row_id = f"ROW-{n}"
        position["GRID_ID"]["children"].append(row_id)
        position[row_id] = {"type": "ROW", "id": row_id, "children": [], "parents": ["ROOT_ID", "GRID_ID"],
                            "meta": {"background": "BACKGROUND_TRANSPARENT"}}
        for name in names:
            chart = charts.get(name)
            if chart is None:
                raise MedleyError(f"{where}: unknown chart '{name}'",
                                  f"use one of {sorted(charts)} (slice_name in superset/charts/*.yml)")
            if name in local_ids:
                raise MedleyError(f"{where}: chart '{name}' is on the dashboard twice", "keep one")
            local_ids[name] = len(local_ids) + 1
            chart_id = f"CHART-{chart['uuid'][:8]}"
            position[row_id]["children"].append(chart_id)
            position[chart_id] = {"type": "CHART", "id": chart_id, "children": [],
                                  "parents": ["ROOT_ID", "GRID_ID", row_id],
                                  "meta": {"chartId": local_ids[name], "uuid": chart["uuid"], "sliceName": name,
                                           "width": GRID_WIDTH // len(names), "height": height}}
    return position, local_ids


def _native_filter(spec: dict, datasets: dict[str, dict], on_dashboard: dict[str, dict],
                   local_ids: dict[str, int], where: str) -> dict:
    """A native filter: `type: time` (the dashboard's time range) or a value select on one dataset
    column. Charts whose dataset lacks the column are out of its scope: Superset would drop the
    filter from their query without a word, and they would show unfiltered numbers."""
    name = spec["name"]
    base = {"id": f"NATIVE_FILTER-{re.sub(r'[^A-Za-z0-9]+', '_', name)}", "name": name, "type": "NATIVE_FILTER",
            "description": spec.get("description", ""), "cascadeParentIds": [],
            "defaultDataMask": {"extraFormData": {}, "filterState": {}, "ownState": {}}}
    if spec.get("type") == "time":
        return {**base, "filterType": "filter_time", "targets": [{}], "controlValues": {},
                "scope": {"rootPath": ["ROOT_ID"], "excluded": []}}
    dataset = datasets.get(spec.get("dataset"))
    if dataset is None:
        raise MedleyError(f"{where}: filter '{name}' names unknown dataset '{spec.get('dataset')}'",
                          f"use one of {sorted(datasets)} (superset/datasets/*.yml)")
    column = spec["column"]
    if column not in {c["column_name"] for c in dataset["columns"]}:
        raise MedleyError(f"{where}: filter '{name}' targets column '{column}', which {spec['dataset']} lacks",
                          f"use a column of superset/datasets/{spec['dataset']}.yml")
    excluded = sorted(local_ids[chart] for chart, ds in on_dashboard.items()
                      if column not in {c["column_name"] for c in ds["columns"]})
    return {**base, "filterType": "filter_select",
            "targets": [{"column": {"name": column}, "datasetUuid": dataset["uuid"]}],
            "controlValues": {"multiSelect": True, "enableEmptyFilter": False, "defaultToFirstItem": False,
                              "inverseSelection": False, "searchAllOptions": False},
            "scope": {"rootPath": ["ROOT_ID"], "excluded": excluded}}


def _dashboard(spec: dict, charts: dict[str, dict], datasets: dict[str, dict], where: str) -> dict:
    title = spec["dashboard_title"]
    position, local_ids = _position(title, spec["rows"], charts, where)
    by_uuid = {d["uuid"]: d for d in datasets.values()}
    on_dashboard = {name: by_uuid[charts[name]["dataset_uuid"]] for name in local_ids}
    filters = [_native_filter(f, datasets, on_dashboard, local_ids, where) for f in spec.get("filters", [])]
    return {
        "dashboard_title": title,
        "description": spec.get("description"),
        "css": "",
        "slug": spec.get("slug"),
        "published": True,
        "position": position,
        "metadata": {"native_filter_configuration": filters, "refresh_frequency": 0,
                     "timed_refresh_immune_slices": [], "expanded_slices": {}, "default_filters": "{}",
                     "color_scheme": spec.get("color_scheme", "supersetColors"),
                     "cross_filters_enabled": False},
        "uuid": asset_uuid("dashboard", title),
        "version": EXPORT_VERSION,
    }


def _shown(path: Path) -> str:
    return str(path.relative_to(REPO_ROOT)) if path.is_relative_to(REPO_ROOT) else str(path)


def assets(cfg: Config, root: Path = ASSETS) -> dict[str, dict]:
    """Bundle path -> Superset export config, for every asset under root (default: superset/)."""
    files: dict[str, dict] = {"metadata.yaml": {
        "version": EXPORT_VERSION, "type": "assets",
        "timestamp": datetime.now(timezone.utc).isoformat(timespec="seconds")}}
    databases = {}
    for stem, spec in _specs(root, "databases").items():
        databases[spec["database_name"]] = files[f"databases/{stem}.yaml"] = _database(cfg, spec)
    datasets = {}
    for stem, spec in _specs(root, "datasets").items():
        where = _shown(root / "datasets" / f"{stem}.yml")
        datasets[spec["table_name"]] = files[f"datasets/{stem}.yaml"] = _dataset(spec, set(databases), where)
    charts = {}
    for stem, spec in _specs(root, "charts").items():
        charts[spec["slice_name"]] = files[f"charts/{stem}.yaml"] = _chart(
            spec, datasets, _shown(root / "charts" / f"{stem}.yml"))
    for stem, spec in _specs(root, "dashboards").items():
        files[f"dashboards/{stem}.yaml"] = _dashboard(spec, charts, datasets,
                                                      _shown(root / "dashboards" / f"{stem}.yml"))
    return files


def bundle(cfg: Config, root: Path = ASSETS) -> bytes:
    """The ZIP Superset's importer expects: everything under one root folder."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for path, config in assets(cfg, root).items():
            zf.writestr(f"medley_assets/{path}", yaml.safe_dump(config, sort_keys=False))
    return out.getvalue()


def _one_line(text: str) -> str:
    return re.sub(r"\s+", " ", text)[:400]


class Client:
    """A logged-in REST session (JWT bearer + the CSRF token Superset wants on writes)."""

    def __init__(self, base_url: str, user: str, password: str):
        self.base_url = base_url
        self.http = requests.Session()
        try:
            resp = self.http.post(f"{base_url}/api/v1/security/login", timeout=60, json={
                "username": user, "password": password, "provider": "db", "refresh": False})
        except requests.ConnectionError as err:
            raise ServiceFailed(f"Superset is not reachable at {base_url}",
                                "start it: python3 -m medley up superset") from err
        if resp.status_code != 200:
            raise ServiceFailed(f"Superset login as '{user}' failed ({resp.status_code})",
                                "restart it with python3 -m medley up superset, which resets the "
                                "admin password to the one in state_dir/secrets.env")
        self.http.headers["Authorization"] = f"Bearer {resp.json()['access_token']}"
        csrf = self.request("GET", "/api/v1/security/csrf_token/")["result"]
        self.http.headers.update({"X-CSRFToken": csrf, "Referer": base_url})

    def request(self, method: str, path: str, **kwargs: Any) -> dict:
        resp = self.http.request(method, self.base_url + path, timeout=180, **kwargs)
        if resp.status_code >= 400:
            raise MedleyError(f"Superset {method} {path} failed ({resp.status_code}): {_one_line(resp.text)}",
                              "read python3 -m medley logs superset")
        return resp.json()


def client(cfg: Config) -> Client:
    user, password = superset_service.admin(cfg)
    return Client(superset_service.url(cfg), user, password)


def chart_ids(api: Client, root: Path = ASSETS) -> dict[str, int]:
    """slice_name -> id of every chart defined under root/charts."""
    return {spec["slice_name"]: api.request("GET", f"/api/v1/chart/{asset_uuid('chart', spec['slice_name'])}")
            ["result"]["id"] for spec in _specs(root, "charts").values()}


def dashboard_ids(api: Client, root: Path = ASSETS) -> dict[str, int]:
    """dashboard_title -> id of every dashboard defined under root/dashboards."""
    return {spec["dashboard_title"]: api.request(
        "GET", f"/api/v1/dashboard/{asset_uuid('dashboard', spec['dashboard_title'])}")["result"]["id"]
        for spec in _specs(root, "dashboards").values()}


def provision(cfg: Config, api: Client | None = None, root: Path = ASSETS) -> dict[str, int]:
    """Import (overwrite) every asset under root; return slice_name -> chart id."""
    api = api or client(cfg)
    api.request("POST", "/api/v1/assets/import/", data={"passwords": "{}"},
                files={"bundle": ("medley_assets.zip", bundle(cfg, root), "application/zip")})
    role_id, _ = sync_role(api)
    ensure_analyst(cfg, api, role_id)
    return chart_ids(api, root)


ROLE = ASSETS / "roles" / "analyst.yml"


def analyst_role(path: Path = ROLE) -> dict:
    """The analyst role: {"name": ..., "permissions": [[resource regex, permission regex], ...]}."""
    spec = yaml.safe_load(path.read_text())
    for resource, permission in spec["permissions"]:
        re.compile(resource), re.compile(permission)
    return spec


def fab_roles(path: Path = ROLE) -> dict[str, list[list[str]]]:
    """FAB_ROLES for superset_config.py: the analyst role's regexes, checked on every request."""
    spec = analyst_role(path)
    return {spec["name"]: spec["permissions"]}


def _all(api: Client, path: str) -> list[dict]:
    """Every row of a paged list endpoint."""
    rows: list[dict] = []
    while True:
        page = api.request("GET", f"{path}?q=(page:{len(rows) // 100},page_size:100)")
        rows += page["result"]
        if not page["result"] or len(rows) >= page["count"]:
            return rows


def sync_role(api: Client, path: Path = ROLE) -> tuple[int, list[str]]:
    """Give the analyst role's database rows exactly the permissions its regexes match now (the
    datasets' `datasource_access` permissions exist only once they are imported, so this runs
    after every import). Returns the role id and the permissions, as "resource:permission"."""
    spec = analyst_role(path)
    matched = {pvm["id"]: f"{pvm['view_menu']['name']}:{pvm['permission']['name']}"
               for pvm in _all(api, "/api/v1/security/permissions-resources/")
               if any(re.match(resource, pvm["view_menu"]["name"]) and re.match(permission, pvm["permission"]["name"])
                      for resource, permission in spec["permissions"])}
    roles = {r["name"]: r["id"] for r in _all(api, "/api/v1/security/roles/")}
    role_id = roles.get(spec["name"]) or api.request("POST", "/api/v1/security/roles/", json={"name": spec["name"]})["id"]
    api.request("POST", f"/api/v1/security/roles/{role_id}/permissions",
                json={"permission_view_menu_ids": sorted(matched)})
    return role_id, sorted(matched.values())


def ensure_analyst(cfg: Config, api: Client, role_id: int) -> str:
    """The analyst user (services.superset.analyst_user, password from cfg.secret like the admin's)
    with the analyst role only; its password is reset to the secret on every provisioning."""
    user, password = superset_service.analyst(cfg)
    body = {"first_name": "Medley", "last_name": "Analyst", "email": f"{user}@localhost", "active": True,
            "roles": [role_id], "password": password}
    found = api.request("GET", "/api/v1/security/users/?q=(filters:!((col:username,opr:eq,value:'%s')))" % user)
    if found["result"]:
        api.request("PUT", f"/api/v1/security/users/{found['result'][0]['id']}", json=body)
    else:
        api.request("POST", "/api/v1/security/users/", json={**body, "username": user})
    return user


def chart_data(cfg: Config, slice_name: str, api: Client | None = None) -> list[dict]:
    """The rows a saved chart shows, queried fresh from its database (not Superset's cache)."""
    api = api or client(cfg)
    chart = api.request("GET", f"/api/v1/chart/{asset_uuid('chart', slice_name)}")["result"]
    # Superset treats any value of `force` as true, so it is sent only when wanted.
    payload = api.request("GET", f"/api/v1/chart/{chart['id']}/data/",
                          params={"format": "json", "type": "full", "force": "true"})
    result = payload["result"][0]
    if result.get("error"):
        raise MedleyError(f"chart '{slice_name}' query failed: {_one_line(str(result['error']))}",
                          "check the dataset against Druid (python3 -m medley logs superset)")
    return result["data"]


def dashboard_slugs(root: Path = ASSETS) -> list[str]:
    return [spec["slug"] for spec in _specs(root, "dashboards").values()]


def check(cfg: Config, screenshots: Path | None = None) -> dict[str, dict]:
    """Every dashboard opened in headless Chromium: {slug: {chart: state}}; ServiceFailed (exit 4)
    naming each chart that errs, shows no data or draws nothing."""
    from medley import browser

    try:
        return browser.superset_check_dashboards(cfg, dashboard_slugs(), screenshots)
    except MedleyError as err:
        raise ServiceFailed(err.message, err.fix) from err


def add_arguments(parser) -> None:
    sub = parser.add_subparsers(dest="superset_command", required=True, metavar="ACTION")
    sub.add_parser("provision", help="import the database, datasets, charts and dashboards under superset/")
    p = sub.add_parser("data", help="print the rows a chart shows, fresh from Druid")
    p.add_argument("chart", help="chart name (slice_name), e.g. 'Listens by state'")
    p = sub.add_parser("bundle", help="write the import bundle ZIP without importing it")
    p.add_argument("output", type=Path)
    p = sub.add_parser("check", help="open every dashboard in headless Chromium: each chart must draw data "
                                     "without an error (exit 4 naming the ones that do not)")
    p.add_argument("--screenshots", type=Path, metavar="DIR",
                   help="also save superset-<slug>.png of each dashboard there (e.g. docs/images)")


def run(cfg: Config, args) -> int:
    if args.superset_command == "provision":
        api = client(cfg)
        ids = provision(cfg, api)
        base = superset_service.url(cfg)
        say(table(["chart", "id", "url"], [(name, i, f"{base}/explore/?slice_id={i}") for name, i in ids.items()]))
        say(table(["dashboard", "id", "url"], [(name, i, f"{base}/superset/dashboard/{i}/")
                                                for name, i in dashboard_ids(api).items()]))
    elif args.superset_command == "check":
        report = check(cfg, args.screenshots)
        say(table(["dashboard", "charts", "all drawn with data"], [(slug, len(c), "yes") for slug, c in report.items()]))
    elif args.superset_command == "data":
        rows = chart_data(cfg, args.chart)
        say(table(list(rows[0]) if rows else ["(no rows)"], [list(r.values()) for r in rows]))
    else:
        args.output.write_bytes(bundle(cfg))
        say(f"wrote {args.output}")
    return 0
