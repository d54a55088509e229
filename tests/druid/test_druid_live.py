"""Druid for real: the processes are healthy, Parquet in MinIO is ingested through the S3 input
source, re-ingesting an interval replaces it, and failures name the datasource."""

from __future__ import annotations

import io
import uuid

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import requests

from medley import druid, storage
from medley.services import druid as druid_services

pytestmark = pytest.mark.services

INTERVAL = "2026-01-01/2026-01-02"
TEMPLATE = {
    "type": "index_parallel",
    "spec": {
        "dataSchema": {
            "dataSource": "",
            "timestampSpec": {"column": "event_at", "format": "millis"},
            "dimensionsSpec": {"dimensions": ["user_id", "state", {"type": "long", "name": "song_id"}]},
            "metricsSpec": [{"type": "doubleSum", "name": "duration_s", "fieldName": "duration_s"}],
            "granularitySpec": {"segmentGranularity": "day", "queryGranularity": "none", "rollup": False},
        },
        "ioConfig": {"type": "index_parallel"},
        "tuningConfig": {"type": "index_parallel", "partitionsSpec": {"type": "dynamic"}},
    },
}


def _rows() -> pa.Table:
    base = 1767225600000  # 2026-01-01T00:00:00Z
    return pa.table({
        "event_at": pa.array([base + i * 60_000 for i in range(40)], pa.int64()),
        "user_id": [f"u{i % 7}" for i in range(40)],
        "state": [("CA", "NY", "TX", "WA")[i % 4] for i in range(40)],
        "song_id": pa.array([i % 5 for i in range(40)], pa.int64()),
        "duration_s": [round(100 + i * 1.25, 2) for i in range(40)],
    })


def _upload(cfg, table: pa.Table, key: str) -> str:
    buf = io.BytesIO()
    pq.write_table(table, buf, compression="snappy")  # what Spark/Delta write
    storage.put_bytes(cfg, key, buf.getvalue())
    return f"s3://{cfg.get('storage.bucket')}/{key}"


def _spec(cfg, datasource: str, objects: list[str]) -> dict:
    template = {**TEMPLATE, "spec": {**TEMPLATE["spec"],
                                     "dataSchema": {**TEMPLATE["spec"]["dataSchema"], "dataSource": datasource}}}
    return druid.render_spec(cfg, template, objects, [INTERVAL])


@pytest.fixture
def datasource(live_cfg):
    name = f"medley_test_{uuid.uuid4().hex[:8]}"
    yield name
    # Drop what the test made so the test instance does not grow run after run.
    requests.delete(f"{druid.url(live_cfg)}/druid/coordinator/v1/datasources/{name}", timeout=30)


def test_every_druid_process_is_healthy(live_cfg):
    for svc in druid_services.services(live_cfg):
        resp = requests.get(f"http://127.0.0.1:{svc.port}/status/health", timeout=5)
        assert resp.status_code == 200 and resp.json() is True, svc.name


def test_s3_parquet_ingestion_matches_the_source_and_reingest_replaces(live_cfg, datasource):
    table = _rows()
    uri = _upload(live_cfg, table, f"tests/druid/{datasource}/part-0.parquet")
    expected_sum = round(sum(table.column("duration_s").to_pylist()), 2)
    per_state = {s: table.column("state").to_pylist().count(s) for s in ("CA", "NY", "TX", "WA")}

    for attempt in range(2):  # the second run re-ingests the same interval: no duplicates
        task = druid.ingest(live_cfg, _spec(live_cfg, datasource, [uri]))
        druid.wait_for_task(live_cfg, task, datasource)
        assert druid.wait_for_datasource(live_cfg, datasource, min_rows=table.num_rows) == table.num_rows
        rows = druid.sql(live_cfg, f'SELECT COUNT(*) AS n, SUM(duration_s) AS s FROM "{datasource}"')
        assert rows[0]["n"] == table.num_rows, f"run {attempt + 1}"
        assert round(rows[0]["s"], 2) == expected_sum

    by_state = druid.sql(live_cfg, f'SELECT state, COUNT(*) AS n FROM "{datasource}" '
                                   "WHERE song_id >= ? GROUP BY state", [0])
    assert {r["state"]: r["n"] for r in by_state} == per_state


def test_a_rejected_spec_names_the_datasource(live_cfg, datasource):
    spec = _spec(live_cfg, datasource, ["tests/druid/none.parquet"])
    spec["spec"]["dataSchema"]["granularitySpec"]["segmentGranularity"] = "fortnight"
    with pytest.raises(druid.IngestionFailed, match=datasource):
        druid.ingest(live_cfg, spec)


def test_a_failed_task_names_datasource_and_task(live_cfg, datasource):
    spec = _spec(live_cfg, datasource, [f"tests/druid/{datasource}/missing.parquet"])
    task = druid.ingest(live_cfg, spec)
    with pytest.raises(druid.IngestionFailed) as failure:
        druid.wait_for_task(live_cfg, task, datasource, timeout_s=600)
    assert datasource in str(failure.value) and task in str(failure.value)
