"""One small local Spark session for the gold tests: one core, one shuffle partition, with Delta
(medley.spark.session) so the job test can write real Delta tables on the local disk."""

from __future__ import annotations

import os

import pytest

from medley import config


@pytest.fixture(scope="session")
def spark(test_cfg):
    from medley.spark import session

    cfg = config.load({**os.environ, "MEDLEY_PATHS__STATE_DIR": str(test_cfg.state_dir),
                       "MEDLEY_PATHS__DATA_DIR": str(test_cfg.data_dir),
                       "MEDLEY_SPARK__MASTER": "local[1]", "MEDLEY_SPARK__SHUFFLE_PARTITIONS": "1",
                       "MEDLEY_SPARK__DRIVER_MEMORY": "1g"})
    s = session(cfg, "medley-gold-tests")
    s.conf.set("spark.sql.shuffle.partitions", "1")   # also when the suite's session came first
    yield s
    s.stop()
