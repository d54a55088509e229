"""Offline chart fixtures: the helm binary from bootstrap, the offline umbrella, one render per profile."""

from __future__ import annotations

import pytest

from medley import chart
from medley.bootstrap import ensure
from medley.config import load


@pytest.fixture(scope="session")
def helm():
    return ensure(load(), "helm")


@pytest.fixture(scope="session")
def umbrella(helm, tmp_path_factory):
    return chart.offline_umbrella(helm, tmp_path_factory.mktemp("chart"))


@pytest.fixture(scope="session")
def rendered(helm, umbrella):
    """profile -> rendered manifest text."""
    return {p: chart.render(helm, umbrella, p) for p in chart.PROFILES}


@pytest.fixture(scope="session")
def docs(rendered):
    """profile -> parsed documents."""
    return {p: chart.documents(text) for p, text in rendered.items()}
