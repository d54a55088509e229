"""Superset assets as code: superset/**/*.yml -> a v1 import bundle -> POST /api/v1/assets/import/.

superset/databases, superset/datasets and superset/charts hold one compact YAML file per asset.
This module expands them into Superset's export layout (metadata.yaml + databases/ datasets/
charts/), fills in what comes from config (the Druid URI), and derives every uuid from the asset's
name, so a re-import overwrites the same assets instead of adding copies.
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
        "extra": {"allows_virtual_table_explore": True},
        "uuid": asset_uuid("database", spec["database_name"]),
        "version": EXPORT_VERSION,
    }


def served_columns(table_name: str) -> list[dict]:
    """A Druid datasource's columns as Superset sees them: __time, then the Druid spec's dimensions
    and metrics, typed and described by the gold contract (one source of truth, no copy here)."""
    from medley import druid
    from medley.contracts import contract

    gold = contract(f"gold/{table_name}")
    schema = druid.load_spec(table_name)["spec"]["dataSchema"]
    time_col = gold.column(schema["timestampSpec"]["column"])
    names = [d if isinstance(d, str) else d["name"] for d in schema["dimensionsSpec"]["dimensions"]]
    names += [m["name"] for m in schema["metricsSpec"] if m["type"] != "count"]
    return [{"name": "__time", "type": "timestamp", "description": time_col.description}] + [
        {"name": n, "type": gold.column(n).type, "description": gold.column(n).description or None}
        for n in names]


def _dataset(spec: dict, databases: set[str], where: str) -> dict:
    if spec["database"] not in databases:
        raise MedleyError(f"{where}: unknown database '{spec['database']}'",
                          f"use one of {sorted(databases)} (superset/databases/*.yml)")
    columns = []
    for col in spec.get("columns") or served_columns(spec["table_name"]):
        if col["type"] not in SQL_TYPES:
            raise MedleyError(f"{where}: column {col['name']} has unknown type '{col['type']}'",
                              f"use one of {sorted(SQL_TYPES)}")
        columns.append({"column_name": col["name"], "type": SQL_TYPES[col["type"]],
                        "is_dttm": col["type"] == "timestamp", "groupby": True, "filterable": True,
                        "description": col.get("description"), "verbose_name": col.get("verbose_name")})
    metrics = [{"metric_name": m["name"], "expression": m["expression"],
                "verbose_name": m.get("verbose_name"), "d3format": m.get("d3format"),
                "description": m.get("description")} for m in spec.get("metrics", [])]
    return {
        "table_name": spec["table_name"],
        "schema": spec.get("schema"),
        "main_dttm_col": spec.get("main_dttm_col"),
        "description": spec.get("description"),
        "filter_select_enabled": True,
        "columns": columns,
        "metrics": metrics,
        "uuid": asset_uuid("dataset", spec["table_name"]),
        "database_uuid": asset_uuid("database", spec["database"]),
        "version": EXPORT_VERSION,
    }


def _chart(spec: dict, datasets: dict[str, dict], where: str) -> dict:
    dataset = datasets.get(spec["dataset"])
    if dataset is None:
        raise MedleyError(f"{where}: unknown dataset '{spec['dataset']}'",
                          f"use one of {sorted(datasets)} (superset/datasets/*.yml)")
    known = {m["metric_name"] for m in dataset["metrics"]}
    missing = [m for m in spec["metrics"] if m not in known]
    if missing:
        raise MedleyError(f"{where}: metrics {missing} are not defined on {spec['dataset']}",
                          f"add them to superset/datasets/{spec['dataset']}.yml")
    x_axis = spec["x_axis"]
    axis = {"columnType": "BASE_AXIS", "expressionType": "SQL", "label": x_axis, "sqlExpression": x_axis}
    if spec.get("time_grain"):
        axis["timeGrain"] = spec["time_grain"]
    order_by = []
    if spec.get("order_by"):
        name, direction = spec["order_by"].split()
        order_by = [[name, direction.lower() == "asc"]]
    # form_data drives rendering in the browser; the query below is what /chart/<id>/data/ runs.
    form_data = {"viz_type": spec["viz_type"], "x_axis": x_axis, "metrics": spec["metrics"],
                 "groupby": [], "adhoc_filters": [], "row_limit": spec.get("row_limit", 1000),
                 "time_range": "No filter", **spec.get("params", {})}
    if spec.get("time_grain"):
        form_data["time_grain_sqla"] = spec["time_grain"]
    query = {"columns": [axis], "metrics": spec["metrics"], "orderby": order_by,
             "row_limit": form_data["row_limit"], "filters": [], "time_range": "No filter",
             "extras": {"having": "", "where": ""}}
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
    for stem, spec in _specs(root, "charts").items():
        files[f"charts/{stem}.yaml"] = _chart(spec, datasets, _shown(root / "charts" / f"{stem}.yml"))
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


def provision(cfg: Config, api: Client | None = None, root: Path = ASSETS) -> dict[str, int]:
    """Import (overwrite) every asset under root; return slice_name -> chart id."""
    api = api or client(cfg)
    api.request("POST", "/api/v1/assets/import/", data={"passwords": "{}"},
                files={"bundle": ("medley_assets.zip", bundle(cfg, root), "application/zip")})
    return chart_ids(api, root)


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


def add_arguments(parser) -> None:
    sub = parser.add_subparsers(dest="superset_command", required=True, metavar="ACTION")
    sub.add_parser("provision", help="import the database, datasets and charts under superset/")
    p = sub.add_parser("data", help="print the rows a chart shows, fresh from Druid")
    p.add_argument("chart", help="chart name (slice_name), e.g. 'Listens by state'")
    p = sub.add_parser("bundle", help="write the import bundle ZIP without importing it")
    p.add_argument("output", type=Path)


def run(cfg: Config, args) -> int:
    if args.superset_command == "provision":
        ids = provision(cfg)
        say(table(["chart", "id", "url"],
                  [(name, i, f"{superset_service.url(cfg)}/explore/?slice_id={i}") for name, i in ids.items()]))
    elif args.superset_command == "data":
        rows = chart_data(cfg, args.chart)
        say(table(list(rows[0]) if rows else ["(no rows)"], [list(r.values()) for r in rows]))
    else:
        args.output.write_bytes(bundle(cfg))
        say(f"wrote {args.output}")
    return 0
