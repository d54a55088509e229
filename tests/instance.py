"""The test instance of Medley: its own ports, data and state directories, so tests never touch a
running demo. Shared by tests/conftest.py and tests that need a variant of its configuration."""

from __future__ import annotations

import os
from pathlib import Path

from medley import config

TEST_HOME = Path(os.environ.get("MEDLEY_TEST_HOME", "~/.local/share/medley-test")).expanduser()
# Ports of the test instance: every port of medley.yaml + 10000, so tests and a running demo never
# collide (MEDLEY_TEST_PORT_OFFSET and MEDLEY_TEST_HOME run a second test instance beside the first).
PORT_OFFSET = int(os.environ.get("MEDLEY_TEST_PORT_OFFSET", "10000"))
TEST_ENV = {
    **config.instance_env(TEST_HOME, PORT_OFFSET),
    # tests use tiny inputs: few shuffle partitions keep each Spark job (and Delta commit) cheap
    "MEDLEY_SPARK__SHUFFLE_PARTITIONS": "2",
    "MEDLEY_SPARK__DRIVER_MEMORY": "2g",
}


def instance_env() -> dict[str, str]:
    """Environment of the test instance (for subprocesses such as `python -m medley run`)."""
    return {**os.environ, **TEST_ENV, "MEDLEY_CONFIG": str(config.REPO_ROOT / "medley.yaml")}


def fresh_bucket(bucket: str) -> config.Config:
    """The test instance writing to its own, emptied bucket: a test's assertions are exact."""
    from minio.deleteobjects import DeleteObject

    from medley import storage

    cfg = config.load({**instance_env(), "MEDLEY_STORAGE__BUCKET": bucket})
    s3 = storage.client(cfg)
    if s3.bucket_exists(bucket):
        doomed = [DeleteObject(o.object_name) for o in s3.list_objects(bucket, recursive=True)]
        assert not list(s3.remove_objects(bucket, doomed))
    storage.ensure_bucket(cfg)
    return cfg


def generate_hours(out: Path, day: str, hours: int = 12, users: int = 200, seed: int = 5) -> dict[str, int]:
    """EventSim (viirya) files for the first hours of a day; lines per stream file."""
    from medley.cli import main as cli_main

    assert cli_main(["generate", "--dialect", "viirya", "--start-time", f"{day}T00:00:00",
                     "--end-time", f"{day}T{hours:02d}:00:00", "--nusers", str(users), "--randomseed",
                     str(seed), "--out", str(out)], {}) == 0
    return {f.name: len(f.read_text().splitlines()) for f in out.iterdir()}
