"""ZooKeeper for Druid's service discovery: Debian's `zookeeper` package (3.8), installed if missing."""

from __future__ import annotations

import shutil
from pathlib import Path

from medley.config import Config
from medley.errors import MissingTool
from medley.proc import run_logged

NAME = "zookeeper"
DESCRIPTION = "ZooKeeper (Debian package)"
PACKAGE = "zookeeper"
JAR = Path("/usr/share/java/zookeeper.jar")   # its manifest Class-Path names the other jars


def fingerprint(cfg: Config) -> str:
    return PACKAGE


def artifact(cfg: Config) -> Path:
    return JAR


def build(cfg: Config) -> None:
    if JAR.exists():
        return
    apt = shutil.which("apt-get")
    if apt is None:
        raise MissingTool(f"ZooKeeper is not installed ({JAR} is missing) and apt-get is unavailable",
                          "install ZooKeeper 3.8 with your package manager so that "
                          f"{JAR} exists, then rerun `python3 -m medley bootstrap zookeeper`")
    log = cfg.state_dir / "logs" / "bootstrap-zookeeper.log"
    run_logged([apt, "update"], log, what="apt-get update")
    run_logged([apt, "install", "-y", "--no-install-recommends", PACKAGE], log,
               env={"DEBIAN_FRONTEND": "noninteractive", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
               what=f"apt-get install {PACKAGE}")
