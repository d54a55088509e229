"""A private control plane for the whole session (its own free ports and temp dir, stopped at the
end), plus Helm pointed at it and the offline umbrella chart."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from medley import chart
from medley.bootstrap import ensure
from medley.config import load
from medley.k8s.controlplane import Cluster, running


@pytest.fixture(scope="session")
def cluster(tmp_path_factory) -> Cluster:
    with running(load(), tmp_path_factory.mktemp("k8s")) as live:
        yield live


class Helm:
    def __init__(self, binary: Path, cluster: Cluster, home: Path):
        # Its own config/cache/data dirs: nothing read from or written to the user's ~/.config/helm.
        self.binary = binary
        self.env = cluster.env() | {f"HELM_{k}_HOME": str(home / k.lower()) for k in ("CONFIG", "CACHE", "DATA")}

    def __call__(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        proc = subprocess.run([str(self.binary), *args], env=self.env, capture_output=True, text=True)
        if check and proc.returncode != 0:
            raise AssertionError(f"helm {' '.join(args)} failed: {proc.stderr.strip()}")
        return proc


@pytest.fixture(scope="session")
def helm(cluster, tmp_path_factory) -> Helm:
    return Helm(ensure(load(), "helm"), cluster, tmp_path_factory.mktemp("helm-home"))


@pytest.fixture(scope="session")
def umbrella(helm, tmp_path_factory) -> Path:
    return chart.offline_umbrella(helm.binary, tmp_path_factory.mktemp("chart"))
