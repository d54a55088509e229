"""Load tiny inline rows into Druid datasources for the Superset tests (native batch tasks)."""

from __future__ import annotations

import json
import time

import pytest
import requests

from medley import druid
from medley.config import Config

# The gold columns of agg_listens_hourly and fact_listen as the test rows carry them.
COLUMNS = (("song", "string"), ("artist", "string"), ("state_code", "string"), ("level", "string"),
           ("gender", "string"), ("listen_count", "long"), ("listen_seconds", "double"))
# fact_listen as served: one row per listen with the song, the listener's state and gender.
FACT_LISTEN_COLUMNS = (("song", "string"), ("artist", "string"), ("state_code", "string"), ("state_name", "string"),
                       ("city", "string"), ("level", "string"), ("gender", "string"), ("auth", "string"),
                       ("user_id", "long"), ("session_id", "long"), ("events", "long"), ("duration_s", "double"))


def submit_replace(cfg: Config, table: str, rows: list[dict], columns: tuple, rollup: dict | None = None) -> str:
    """Start replacing `table` with rows (each: `hour` as ISO timestamp + `columns`); return the
    task id. A native batch task with one sub-task takes one task slot, so several can be queued
    at once (multi-stage REPLACEs each hold a controller slot while waiting for a worker slot: two
    of them deadlock the test instance's two slots). `rollup` = {"dimensions": [...],
    "metrics": [Druid metric specs]} rolls the rows up per UTC day, as the gold datasource does."""
    data = "\n".join(json.dumps(r) for r in rows)
    kinds = dict(columns)
    dims = rollup["dimensions"] if rollup else [n for n, _ in columns]
    schema = {"dataSource": table, "timestampSpec": {"column": "hour", "format": "iso"},
              "dimensionsSpec": {"dimensions": [{"type": kinds[d], "name": d} for d in dims]},
              "metricsSpec": rollup["metrics"] if rollup else [],
              "granularitySpec": {"segmentGranularity": "day", "queryGranularity": "day" if rollup else "none",
                                  "rollup": bool(rollup), "intervals": ["2000-01-01/2100-01-01"]}}
    task = {"type": "index_parallel", "spec": {
        "dataSchema": schema,
        # dropExisting: segments of earlier runs (other days) go too, so the table is exactly `rows`
        "ioConfig": {"type": "index_parallel", "inputSource": {"type": "inline", "data": data},
                     "inputFormat": {"type": "json"}, "appendToExisting": False, "dropExisting": True},
        "tuningConfig": {"type": "index_parallel", "maxNumConcurrentSubTasks": 1,
                         "partitionsSpec": {"type": "dynamic"}}}}
    resp = requests.post(f"{druid.url(cfg)}/druid/indexer/v1/task", timeout=120, json=task)
    assert resp.status_code == 200, resp.text
    return resp.json()["task"]


def wait_served(cfg: Config, table: str, task_id: str, rows: int, timeout_s: int = 900) -> None:
    """Wait for the task, then until Druid serves `rows` rows of `table`."""
    druid.wait_for_task(cfg, task_id, table, timeout_s)
    # A datasource new to this instance is unknown to Druid SQL ("Object ... not found", an error,
    # not 0 rows) until its segments are loaded: wait_for_datasource waits for that first.
    druid.wait_for_datasource(cfg, table, min_rows=1, timeout_s=timeout_s)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if druid.sql(cfg, f'SELECT COUNT(*) AS n FROM "{table}"')[0]["n"] == rows:
            return
        time.sleep(2)
    pytest.fail(f"Druid datasource {table} did not serve {rows} rows within {timeout_s}s")
