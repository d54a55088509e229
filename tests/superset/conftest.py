"""Superset (and, for the data tests, Druid) started for the session.

`superset_cfg` stands in for the lead's session fixture `live_cfg` until tests/conftest.py has it.
Services are shared: the fixtures start what is down and never stop anything.
"""

from __future__ import annotations

import pytest

from medley import config, services
from medley.config import Config
from medley.services import superset as superset_service


@pytest.fixture(scope="session")
def superset_cfg() -> Config:
    cfg = config.load()
    for svc in superset_service.services(cfg):
        services.start(cfg, svc)
    return cfg


@pytest.fixture(scope="session")
def druid_cfg(superset_cfg: Config) -> Config:
    services.up(superset_cfg, ["zookeeper", "druid"], quiet=True)
    return superset_cfg
