"""Session fixtures shared by the whole suite.

`live_cfg`: a separate Medley instance for tests (its own ports, data and state directories,
so a running demo is never touched), with every local service started for real and stopped at
the end. `spark`: one local Spark session with Delta and s3a, configured from the same instance.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from medley import config

TEST_HOME = Path(os.environ.get("MEDLEY_TEST_HOME", "~/.local/share/medley-test")).expanduser()
# Ports of the test instance: the defaults + 10000, so tests and a running demo never collide.
TEST_ENV = {
    "MEDLEY_PATHS__DATA_DIR": str(TEST_HOME / "data"),
    "MEDLEY_PATHS__STATE_DIR": str(TEST_HOME / "state"),
    "MEDLEY_STORAGE__ENDPOINT": "http://127.0.0.1:19000",
    "MEDLEY_SERVICES__MINIO__PORT": "19000",
    "MEDLEY_SERVICES__MINIO__CONSOLE_PORT": "19001",
    "MEDLEY_SERVICES__ZOOKEEPER__PORT": "12181",
    "MEDLEY_SERVICES__DRUID__COORDINATOR_PORT": "18081",
    "MEDLEY_SERVICES__DRUID__METADATA_PORT": "11527",
    "MEDLEY_SERVICES__DRUID__BROKER_PORT": "18082",
    "MEDLEY_SERVICES__DRUID__HISTORICAL_PORT": "18083",
    "MEDLEY_SERVICES__DRUID__MIDDLEMANAGER_PORT": "18091",
    "MEDLEY_SERVICES__DRUID__ROUTER_PORT": "18888",
    "MEDLEY_SERVICES__DRUID__TASK_PORT_START": "18100",
    "MEDLEY_SERVICES__SUPERSET__PORT": "18088",
}


def instance_env() -> dict[str, str]:
    """Environment of the test instance (for subprocesses such as `python -m medley run`)."""
    return {**os.environ, **TEST_ENV, "MEDLEY_CONFIG": str(config.REPO_ROOT / "medley.yaml")}


@pytest.fixture(scope="session")
def test_cfg() -> config.Config:
    return config.load(instance_env())


@pytest.fixture(scope="session")
def live_cfg(test_cfg):
    from medley import services, storage

    services.up(test_cfg)
    storage.ensure_bucket(test_cfg)
    yield test_cfg
    services.down(test_cfg)


@pytest.fixture(scope="session")
def spark(test_cfg):
    from medley.spark import session

    s = session(test_cfg, "medley-tests")
    yield s
    s.stop()
