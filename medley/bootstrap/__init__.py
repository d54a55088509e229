"""`medley bootstrap`: everything a fresh machine needs, cached outside the repo, idempotent.

Each component is a module with NAME, DESCRIPTION, fingerprint(cfg), artifact(cfg) and
build(cfg). A component is rebuilt only when its fingerprint (pins + the repo files it is
built from) changes or its artifact is missing, so a warm bootstrap takes seconds.
"""

from __future__ import annotations

import hashlib
import importlib
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from medley import REPO_ROOT
from medley.config import Config
from medley.console import say, step, table
from medley.errors import NoDiskSpace

# Build order; each group is what a command needs.
COMPONENTS = ["jars", "generator", "minio", "zookeeper", "druid", "druid-console", "superset", "postgres", "airflow",
              "chromium", "helm", "controlplane", "node", "images"]
GROUPS = {
    "pipeline": ["jars"],
    "demo": ["jars", "generator", "minio", "zookeeper", "druid", "druid-console", "superset", "postgres", "airflow",
             "chromium"],
    "test": COMPONENTS,
}
# Only the chart and Kubernetes tests need these (the longest builds: Go compiles and container
# images): `medley test` builds them beside the other tests.
KUBERNETES_TOOLS = ["helm", "controlplane", "node", "images"]
MIN_FREE_GB = 8


def files_digest(*paths: Path) -> str:
    """Fingerprint of repo files (or every file under repo dirs) a component is built from."""
    digest = hashlib.sha256()
    for path in paths:
        for f in sorted(p for p in ([path] if path.is_file() else path.rglob("*")) if p.is_file()):
            digest.update(str(f.relative_to(REPO_ROOT)).encode())
            digest.update(f.read_bytes())
    return digest.hexdigest()[:16]


def component(name: str):
    """The module of a component: druid-console is medley/bootstrap/druid_console.py."""
    return importlib.import_module(f"medley.bootstrap.{name.replace('-', '_')}")


def _stamp(cfg: Config, name: str) -> Path:
    return cfg.cache_dir / "stamps" / name


def is_current(cfg: Config, name: str) -> bool:
    mod = component(name)
    stamp = _stamp(cfg, name)
    return stamp.exists() and stamp.read_text() == mod.fingerprint(cfg) and mod.artifact(cfg).exists()


def ensure(cfg: Config, name: str) -> Path:
    mod = component(name)
    if not is_current(cfg, name):
        # One build of a component at a time: `medley test` builds Helm and the control plane in the
        # background while tests run, and a test needing one waits for that build, not a second.
        with _build_lock(cfg, name):
            if not is_current(cfg, name):   # else it was built while we waited
                free_gb = shutil.disk_usage(cfg.cache_dir).free / 2**30
                if free_gb < MIN_FREE_GB:
                    raise NoDiskSpace(f"only {free_gb:.1f} GB free under {cfg.cache_dir}",
                                      f"free at least {MIN_FREE_GB} GB or set paths.cache_dir to a bigger disk")
                with step(f"bootstrap {name}: {mod.DESCRIPTION}"):
                    mod.build(cfg)
                stamp = _stamp(cfg, name)
                stamp.parent.mkdir(parents=True, exist_ok=True)
                stamp.write_text(mod.fingerprint(cfg))
    return mod.artifact(cfg)


@contextmanager
def _build_lock(cfg: Config, name: str) -> Iterator[None]:
    import fcntl

    path = cfg.cache_dir / "stamps" / f"{name}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        yield


# Go builds are CPU-bound and the rest mostly downloads: two chains in parallel use both well.
GO_BUILT = {"generator", "minio", "helm", "controlplane", "node"}


def bootstrap(cfg: Config, names: list[str]) -> None:
    from concurrent.futures import ThreadPoolExecutor

    fresh = {name: is_current(cfg, name) for name in names}
    chains = [[n for n in names if n in GO_BUILT], [n for n in names if n not in GO_BUILT]]

    def build_chain(chain: list[str]) -> None:
        for name in chain:
            ensure(cfg, name)

    with ThreadPoolExecutor(max_workers=2) as pool:
        for future in [pool.submit(build_chain, c) for c in chains if c]:
            future.result()   # re-raises the first failure with its one-line message
    say(table(["component", "state", "where"],
              [(n, "cached" if fresh[n] else "built", component(n).artifact(cfg)) for n in names]))
