"""Components that are one Debian package: fingerprinted by the package name, built by installing it
with apt-get when the file it provides is missing."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from medley.config import Config
from medley.proc import apt_install


def package(name: str, package: str, provides: Path, what: str) -> tuple[Callable, Callable, Callable]:
    """fingerprint(cfg), artifact(cfg) and build(cfg) of component `name`, which is Debian's `package`."""
    def fingerprint(cfg: Config) -> str:
        return package

    def artifact(cfg: Config) -> Path:
        return provides

    def build(cfg: Config) -> None:
        if not provides.exists():
            apt_install(package, provides, what, cfg.state_dir / "logs" / f"bootstrap-{name}.log")

    return fingerprint, artifact, build
