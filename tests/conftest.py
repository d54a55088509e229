"""Session fixtures shared by the whole suite.

`live_cfg`: a separate Medley instance for tests (its own ports, data and state directories,
so a running demo is never touched), with every local service started for real and stopped at
the end; `object_store`: the same instance with only MinIO. `spark`: one local Spark session with Delta and s3a, configured from the same instance.
"""

from __future__ import annotations

import pytest

from instance import instance_env
from medley import config


# Tests that need Helm or the control plane: `medley test` builds those in the background while
# the others run, so these go last (the order is otherwise as collected; none depends on it).
NEEDS_KUBERNETES_TOOLS = ("tests/helm/", "tests/k8s/", "tests/test_landing_contract.py")


def pytest_collection_modifyitems(items):
    items.sort(key=lambda item: item.nodeid.startswith(NEEDS_KUBERNETES_TOOLS))


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
def object_store(test_cfg):
    """Only MinIO, for tests of the object store alone (seconds to start when run by themselves;
    in the whole suite live_cfg has started it already)."""
    from medley import services, storage

    services.up(test_cfg, ["minio"], quiet=True)
    storage.ensure_bucket(test_cfg)
    yield test_cfg
    services.down(test_cfg, ["minio"])


@pytest.fixture(scope="session")
def spark(test_cfg):
    from medley.spark import session

    s = session(test_cfg, "medley-tests")
    yield s
    s.stop()
