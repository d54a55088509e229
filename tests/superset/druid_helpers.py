"""Druid helpers for the Superset tests: load tiny inline rows and query Druid SQL directly."""

from __future__ import annotations

import json
import time

import pytest
import requests

from medley.config import Config


def druid_sql(cfg: Config, sql: str) -> list[dict]:
    resp = requests.post(f"http://127.0.0.1:{cfg.port('druid', 'router_port')}/druid/v2/sql/",
                         json={"query": sql}, timeout=120)
    assert resp.status_code == 200, resp.text
    return resp.json()


def druid_replace(cfg: Config, table: str, rows: list[dict], timeout_s: int = 600) -> None:
    """REPLACE a Druid datasource with inline rows (a multi-stage query) and wait until queryable.

    Each row has `hour` (ISO timestamp) and the agg_listens_hourly columns.
    """
    data = "\n".join(json.dumps(r) for r in rows)
    signature = [{"name": "hour", "type": "string"}] + [
        {"name": n, "type": t} for n, t in (("song", "string"), ("artist", "string"), ("state", "string"),
                                            ("level", "string"), ("gender", "string"),
                                            ("listen_count", "long"), ("listen_seconds", "double"))]
    literal = lambda obj: "'" + json.dumps(obj).replace("'", "''") + "'"  # noqa: E731
    sql = (f'REPLACE INTO "{table}" OVERWRITE ALL '
           'SELECT TIME_PARSE("hour") AS "__time", song, artist, state, level, gender, '
           'listen_count, listen_seconds '
           f'FROM TABLE(EXTERN({literal({"type": "inline", "data": data})}, '
           f'{literal({"type": "json"})}, {literal(signature)})) PARTITIONED BY DAY')
    router = f"http://127.0.0.1:{cfg.port('druid', 'router_port')}"
    resp = requests.post(f"{router}/druid/v2/sql/task", timeout=120,
                         json={"query": sql, "context": {"waitUntilSegmentsLoad": True}})
    assert resp.status_code in (200, 202), resp.text
    task = resp.json()["taskId"]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        status = requests.get(f"{router}/druid/indexer/v1/task/{task}/status", timeout=30).json()["status"]
        if status["status"] == "FAILED":
            pytest.fail(f"Druid task {task} failed: {status.get('errorMsg')}")
        if status["status"] == "SUCCESS":
            break
        time.sleep(2)
    else:
        pytest.fail(f"Druid task {task} did not finish within {timeout_s}s")
    while time.monotonic() < deadline:  # segments handed off to the historical
        count = druid_sql(cfg, f'SELECT COUNT(*) AS n FROM "{table}"')
        if count and count[0]["n"] == len(rows):
            return
        time.sleep(2)
    pytest.fail(f"Druid datasource {table} did not serve {len(rows)} rows within {timeout_s}s")
