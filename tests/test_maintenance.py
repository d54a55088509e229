"""Each maintenance step (medley/maintenance.py) on the live test instance, checked by its effect:
OPTIMIZE leaves one file where appends left several, VACUUM with retention 0 deletes the replaced
files, Druid holds an auto-compaction config for every served datasource, and expire-results
deletes an old validation result and keeps a new one and the Data Docs."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import datetime, timezone

import pytest

from instance import fresh_bucket, instance_env
from medley import REPO_ROOT, config, druid, maintenance, storage
from medley.errors import MedleyError

pytestmark = [pytest.mark.services, pytest.mark.timeout(1800)]
BUCKET = "medley-maintenance-test"
TABLE = "silver.quarantine"     # any table of the contracts: the steps do not read the rows


def parquet_files(cfg, table: str) -> list[str]:
    prefix = storage.table_uri(cfg, table).split(f"{cfg.get('storage.bucket')}/", 1)[1] + "/"
    return [k for k in storage.list_keys(cfg, prefix) if k.endswith(".parquet")]


def test_optimize_then_vacuum_compacts_and_deletes_the_replaced_files(live_cfg, spark):
    cfg = fresh_bucket(BUCKET)
    for part in range(4):     # four commits, a file each: what hourly replacements leave behind
        spark.range(part * 10, part * 10 + 10).coalesce(1).write.format("delta").mode("append") \
            .save(storage.table_uri(cfg, TABLE))
    assert len(parquet_files(cfg, TABLE)) == 4

    assert maintenance.optimize(spark, cfg) == {TABLE: (4, 1)}
    assert spark.read.format("delta").load(storage.table_uri(cfg, TABLE)).count() == 40
    assert len(parquet_files(cfg, TABLE)) == 5     # compacted, the four old files still on disk

    quick = config.load({**cfg.env, "MEDLEY_MAINTENANCE__VACUUM_RETENTION_HOURS": "0"})
    with pytest.raises(MedleyError, match=r"vacuum_retention_hours 0 is below Delta's safety minimum of 168 h"):
        maintenance.vacuum(spark, quick)
    assert maintenance.vacuum(spark, cfg) == {TABLE: 168.0}
    assert len(parquet_files(cfg, TABLE)) == 5     # a week's retention keeps them
    spark.conf.set(maintenance.RETENTION_CHECK, "false")   # this test only: retention 0 deletes them now
    try:
        assert maintenance.vacuum(spark, quick) == {TABLE: 0.0}
    finally:
        spark.conf.set(maintenance.RETENTION_CHECK, "true")
    assert len(parquet_files(cfg, TABLE)) == 1
    assert spark.read.format("delta").load(storage.table_uri(cfg, TABLE)).count() == 40


def test_druid_compaction_config_is_set_for_every_served_datasource(live_cfg):
    names = maintenance.druid_compaction(live_cfg)
    try:
        assert names == sorted(p.stem for p in druid.SPECS_DIR.glob("*.json")) and names
        for name in names:
            resp = druid._request(live_cfg, "GET", f"/druid/coordinator/v1/config/compaction/{name}")
            assert resp.status_code == 200, resp.text
            assert resp.json()["skipOffsetFromLatest"] == "P1D"
    finally:
        # other tests ingest into the same datasources: no compaction tasks competing with them
        for name in names:
            druid._request(live_cfg, "DELETE", f"/druid/coordinator/v1/config/compaction/{name}")


def test_expire_results_deletes_old_results_only(live_cfg):
    """Run as the DAG runs it: `python -m medley.maintenance expire-results --as-of <interval end>`."""
    cfg = fresh_bucket(BUCKET + "-results")
    quality = cfg.get("storage.quality_prefix")
    storage.put_bytes(cfg, f"{quality}/runs/old-run/silver/listen_events.json", b"{}")
    time.sleep(2)       # object times have a resolution of a second or so
    as_of = datetime.now(timezone.utc)
    time.sleep(2)
    storage.put_bytes(cfg, f"{quality}/runs/new-run/silver/listen_events.json", b"{}")
    storage.put_bytes(cfg, f"{quality}/data_docs/index.html", b"<html/>")

    done = subprocess.run([sys.executable, "-m", "medley.maintenance", "expire-results", "--as-of", as_of.isoformat()],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=300,
                          env={**instance_env(), "MEDLEY_STORAGE__BUCKET": cfg.get("storage.bucket"),
                               "MEDLEY_MAINTENANCE__QUALITY_RESULTS_DAYS": "0", "PYTHONPATH": str(REPO_ROOT)})
    assert done.returncode == 0, done.stderr[-3000:]
    assert "expire-results: 1 results older than" in done.stdout
    assert sorted(storage.list_keys(cfg, quality)) == [f"{quality}/data_docs/index.html",
                                                       f"{quality}/runs/new-run/silver/listen_events.json"]
