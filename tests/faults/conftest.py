"""The fault tests need MinIO, ZooKeeper and Druid of the test instance (not Superset or Airflow):
started here when they run alone, already up when the whole suite runs (`live_cfg`)."""

from __future__ import annotations

import pytest

LAKE = ["minio", "zookeeper", "druid"]


@pytest.fixture(scope="session")
def lake(test_cfg):
    """The services as this session found them at the end: stopped only if it started them (a
    second session, e.g. the slow sweep beside the fast faults, keeps using them)."""
    from medley import services, storage

    were_up = all(services.running_pid(test_cfg, s) for s in services.all_services(test_cfg, LAKE))
    services.up(test_cfg, LAKE, quiet=True)
    storage.ensure_bucket(test_cfg)
    yield test_cfg
    if not were_up:
        services.down(test_cfg, LAKE)
