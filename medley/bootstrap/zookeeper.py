"""ZooKeeper for Druid's service discovery: Debian's `zookeeper` package (3.8), installed if missing."""

from __future__ import annotations

from pathlib import Path

from medley.config import Config
from medley.proc import apt_install

NAME = "zookeeper"
DESCRIPTION = "ZooKeeper (Debian package)"
PACKAGE = "zookeeper"
JAR = Path("/usr/share/java/zookeeper.jar")   # its manifest Class-Path names the other jars


def fingerprint(cfg: Config) -> str:
    return PACKAGE


def artifact(cfg: Config) -> Path:
    return JAR


def build(cfg: Config) -> None:
    if not JAR.exists():
        apt_install(PACKAGE, JAR, "ZooKeeper 3.8", cfg.state_dir / "logs" / "bootstrap-zookeeper.log")
