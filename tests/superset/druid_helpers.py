"""Load tiny inline rows into a Druid datasource for the Superset tests (a multi-stage REPLACE)."""

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
FACT_LISTEN_COLUMNS = (("level", "string"), ("auth", "string"), ("user_id", "long"), ("session_id", "long"),
                       ("duration_s", "double"))


def _literal(obj: object) -> str:
    return "'" + json.dumps(obj).replace("'", "''") + "'"


def druid_replace(cfg: Config, table: str, rows: list[dict], timeout_s: int = 600,
                  columns: tuple = COLUMNS) -> None:
    """Replace `table` with rows (each: `hour` as ISO timestamp + `columns`, by default the
    agg_listens_hourly ones) and wait until Druid serves all of them."""
    data = "\n".join(json.dumps(r) for r in rows)
    signature = [{"name": "hour", "type": "string"}] + [{"name": n, "type": t} for n, t in columns]
    names = ", ".join(n for n, _ in columns)
    query = (f'REPLACE INTO "{table}" OVERWRITE ALL '
             f'SELECT TIME_PARSE("hour") AS "__time", {names} '
             f'FROM TABLE(EXTERN({_literal({"type": "inline", "data": data})}, '
             f'{_literal({"type": "json"})}, {_literal(signature)})) PARTITIONED BY DAY')
    resp = requests.post(f"{druid.url(cfg)}/druid/v2/sql/task", timeout=120,
                         json={"query": query, "context": {"waitUntilSegmentsLoad": True}})
    assert resp.status_code in (200, 202), resp.text
    druid.wait_for_task(cfg, resp.json()["taskId"], table, timeout_s)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if druid.sql(cfg, f'SELECT COUNT(*) AS n FROM "{table}"')[0]["n"] == len(rows):
            return
        time.sleep(2)
    pytest.fail(f"Druid datasource {table} did not serve {len(rows)} rows within {timeout_s}s")
