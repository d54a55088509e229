"""Session fixtures shared by the whole suite.

`live_cfg`: a separate Medley instance for tests (its own ports, data and state directories,
so a running demo is never touched), with every local service started for real and stopped at
the end. `spark`: one local Spark session with Delta and s3a, configured from the same instance.
"""

from __future__ import annotations

import pytest

from instance import instance_env
from medley import config


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
