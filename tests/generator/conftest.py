"""Generated runs shared by the generator tests (each made once per session)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from medley import REPO_ROOT
from medley.cli import main

SAMPLES = REPO_ROOT / "tests" / "data" / "eventsim_samples"   # real EventSim output (NOTICE there)
VIIRYA_STREAMS = ("page_view_events", "listen_events", "auth_events", "status_change_events")
ACCEPTANCE = ["--start-time", "2026-11-01T00:00:00", "--end-time", "2026-11-02T00:00:00",
              "--nusers", "2000", "--randomseed", "7"]


def generate(out: Path, *flags: str) -> Path:
    assert main(["generate", *flags, "--out", str(out)], {}) == 0
    return out


def read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="session")
def viirya_run(tmp_path_factory) -> Path:
    return generate(tmp_path_factory.mktemp("viirya"), "--dialect", "viirya", *ACCEPTANCE)


@pytest.fixture(scope="session")
def interana_run(tmp_path_factory) -> Path:
    return generate(tmp_path_factory.mktemp("interana"), "--dialect", "interana", *ACCEPTANCE)


@pytest.fixture(scope="session")
def week_run(tmp_path_factory) -> Path:
    """A bigger run (a week, weekend included) for the distribution checks."""
    return generate(tmp_path_factory.mktemp("week"), "--start-time", "2026-11-02T00:00:00",
                    "--end-time", "2026-11-09T00:00:00", "--nusers", "3000", "--randomseed", "11")
