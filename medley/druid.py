"""Druid client: fill a spec template, run native batch ingestion from S3, wait, query with SQL.

Everything goes through the router (the one endpoint a cluster exposes too). A spec template is
a normal `index_parallel` spec without input source or intervals (druid_specs/README.md);
render_spec() adds the S3 input source for the current Delta snapshot's Parquet files and the
intervals to replace.
"""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path
from urllib.parse import quote

import requests

from medley import REPO_ROOT
from medley.config import Config
from medley.errors import MedleyError, ServiceFailed
from medley.services.druid import S3_ACCESS_KEY_ENV, S3_SECRET_KEY_ENV

SPECS_DIR = REPO_ROOT / "druid_specs"
TERMINAL = {"SUCCESS", "FAILED"}
ALL_TIME = "1000-01-01/3000-01-01"
SQL_TYPES = {bool: "BOOLEAN", int: "BIGINT", float: "DOUBLE", str: "VARCHAR"}


class IngestionFailed(MedleyError):
    pass


def url(cfg: Config) -> str:
    """The router the druid hop talks to: services.druid.url (the chart's router service), else
    this machine's."""
    return cfg.get("services.druid.url") or f"http://127.0.0.1:{cfg.port('druid', 'router_port')}"


def load_spec(name: str) -> dict:
    return json.loads((SPECS_DIR / f"{name}.json").read_text())


def _s3_uri(cfg: Config, obj: str) -> str:
    return obj if obj.startswith("s3://") else f"s3://{cfg.get('storage.bucket')}/{obj.lstrip('/')}"


def render_spec(cfg: Config, spec_template: dict, objects: list[str], intervals: list[str]) -> dict:
    """The template with its S3 input source (objects: s3:// URIs or keys in the bucket) and the
    intervals whose data this ingestion replaces."""
    if not objects:
        raise MedleyError("render_spec: no objects to ingest", "pass the Parquet files of the snapshot")
    spec = copy.deepcopy(spec_template)
    spec.pop("medley", None)   # Medley's own notes (source table, column origins: medley/serving.py)
    body = spec.setdefault("spec", {})
    io = body.setdefault("ioConfig", {"type": "index_parallel"})
    io["inputSource"] = {
        "type": "s3",
        "uris": [_s3_uri(cfg, o) for o in objects],
        # Per-spec endpoint and credentials: nothing S3-specific in Druid's runtime properties.
        "endpointConfig": {"url": cfg.get("storage.endpoint"), "signingRegion": cfg.get("storage.region")},
        "clientConfig": {"enablePathStyleAccess": bool(cfg.get("storage.path_style", True)),
                         "protocol": cfg.get("storage.endpoint").split("://", 1)[0],
                         "disableChunkedEncoding": True},
        # Read from Druid's own environment, so no secret is stored in the task payload.
        "properties": {"accessKeyId": {"type": "environment", "variable": S3_ACCESS_KEY_ENV},
                       "secretAccessKey": {"type": "environment", "variable": S3_SECRET_KEY_ENV}},
    }
    io.setdefault("inputFormat", {"type": "parquet"})
    # Replace, never append: segments of these intervals are overshadowed, and dropExisting
    # also drops intervals that no longer have any rows.
    io["appendToExisting"] = False
    io["dropExisting"] = True
    granularity = body.setdefault("dataSchema", {}).setdefault("granularitySpec", {})
    granularity["intervals"] = list(intervals)
    body.setdefault("tuningConfig", {"type": "index_parallel"})
    return spec


def _datasource(spec: dict) -> str:
    return spec.get("spec", {}).get("dataSchema", {}).get("dataSource", "?")


def _request(cfg: Config, method: str, path: str, **kw) -> requests.Response:
    try:
        return requests.request(method, url(cfg) + path, timeout=kw.pop("timeout", 60), **kw)
    except requests.ConnectionError as err:
        raise ServiceFailed(f"Druid is not reachable at {url(cfg)} ({type(err).__name__})",
                            "start it: python3 -m medley up zookeeper druid") from err


def _error_text(resp: requests.Response) -> str:
    try:
        body = resp.json()
    except ValueError:
        return resp.text.strip()[:500]
    return body.get("errorMessage") or body.get("error") or json.dumps(body)[:500]


def ingest(cfg: Config, spec: dict) -> str:
    """Submit a native batch task; return its id."""
    resp = _request(cfg, "POST", "/druid/indexer/v1/task", json=spec)
    if resp.status_code != 200:
        raise IngestionFailed(f"Druid rejected the ingestion spec for datasource '{_datasource(spec)}' "
                              f"(HTTP {resp.status_code}): {_error_text(resp)}",
                              "fix the spec in druid_specs/")
    return resp.json()["task"]


def wait_for_task(cfg: Config, task_id: str, datasource: str = "", timeout_s: float = 1800) -> dict:
    """Poll the task until it ends; raise IngestionFailed naming datasource and task on failure."""
    what = f"ingestion task {task_id}" + (f" for datasource '{datasource}'" if datasource else "")
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        resp = _request(cfg, "GET", f"/druid/indexer/v1/task/{task_id}/status")
        if resp.status_code == 200:
            status = resp.json().get("status") or {}
            if status.get("status") == "FAILED":
                # errorMsg is often a stack trace: its first line names the cause.
                cause = (status.get("errorMsg") or "no message").splitlines()[0][:400]
                raise IngestionFailed(f"Druid {what} failed: {cause}",
                                      f"read the task log: {url(cfg)}/druid/indexer/v1/task/{task_id}/log")
            if status.get("status") == "SUCCESS":
                return status
        time.sleep(2)
    raise IngestionFailed(f"Druid {what} did not finish within {timeout_s:.0f}s",
                          f"check {url(cfg)}/druid/indexer/v1/task/{task_id}/status")


def sql(cfg: Config, query: str, parameters: list | None = None, timeout_s: float = 300) -> list[dict]:
    """Run Druid SQL; `?` placeholders take `parameters` (bool, int, float or str)."""
    body: dict = {"query": query, "resultFormat": "object"}
    if parameters:
        body["parameters"] = [{"type": SQL_TYPES[type(p)], "value": p} for p in parameters]
    resp = _request(cfg, "POST", "/druid/v2/sql", json=body, timeout=timeout_s)
    if resp.status_code != 200:
        raise MedleyError(f"Druid SQL failed (HTTP {resp.status_code}): {_error_text(resp)}; query: {query}",
                          "fix the query")
    return resp.json()


def _loaded_percent(cfg: Config, datasource: str) -> float:
    # forceMetadataRefresh: count the segments a task has just published, not the coordinator's
    # last poll of the metadata store, which may still list only the segments they replace.
    # The interval defaults to the last two weeks; ours covers every date.
    resp = _request(cfg, "GET", f"/druid/coordinator/v1/datasources/{quote(datasource)}/loadstatus",
                    params={"forceMetadataRefresh": "true", "interval": ALL_TIME})
    try:
        return float(resp.json().get(datasource, 0.0))
    except ValueError:  # plain-text "No used segment found ..." while nothing is published yet
        return 0.0


def served_datasources(cfg: Config) -> set[str]:
    """The datasources Druid SQL can query now. The broker's SQL schema learns a new datasource a
    moment after its segments are loaded, and a spec whose table had no rows has none: querying
    either is an error ("Object ... not found"), not zero rows."""
    return {r["TABLE_NAME"] for r in sql(
        cfg, "SELECT TABLE_NAME FROM INFORMATION_SCHEMA.TABLES WHERE TABLE_SCHEMA = 'druid'")}


def drop_datasource(cfg: Config, datasource: str, timeout_s: float = 300) -> None:
    """Mark every segment of the datasource unused (kept in deep storage until a kill task) and
    wait until Druid SQL no longer serves it."""
    resp = _request(cfg, "DELETE", f"/druid/coordinator/v1/datasources/{quote(datasource)}")
    if resp.status_code not in (200, 204):
        raise IngestionFailed(f"Druid did not drop datasource '{datasource}' (HTTP {resp.status_code}): "
                              f"{_error_text(resp)}", "check the coordinator's log")
    deadline = time.monotonic() + timeout_s
    while datasource in served_datasources(cfg):
        if time.monotonic() > deadline:
            raise IngestionFailed(f"Druid still serves datasource '{datasource}' {timeout_s:.0f} s after "
                                  "its segments were marked unused", "check the coordinator's log")
        time.sleep(2)


def wait_for_datasource(cfg: Config, datasource: str, min_rows: int = 1, timeout_s: float = 600) -> int:
    """Wait until every used segment of the datasource is loaded and it serves at least min_rows
    rows (Druid rows, i.e. after rollup); return that row count."""
    deadline = time.monotonic() + timeout_s
    rows = 0
    while time.monotonic() < deadline:
        if _loaded_percent(cfg, datasource) >= 100.0 and datasource in served_datasources(cfg):
            rows = int(sql(cfg, f'SELECT COUNT(*) AS n FROM "{datasource}"')[0]["n"])
            if rows >= min_rows:
                return rows
        time.sleep(2)
    raise ServiceFailed(f"Druid datasource '{datasource}' serves {rows} rows, not at least {min_rows}, "
                        f"after {timeout_s:.0f}s", f"check segment loading: {url(cfg)}/druid/coordinator/v1/"
                        f"loadstatus and the druid-historical log")
