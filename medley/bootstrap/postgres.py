"""PostgreSQL 15 for Airflow's metadata: Debian 12's `postgresql-15` package, installed if missing.

Only the binaries are used: Medley runs its own cluster under data_dir (medley/services/postgres.py),
never the package's system cluster.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from medley.config import Config
from medley.errors import MissingTool
from medley.proc import run_logged

NAME = "postgres"
DESCRIPTION = "PostgreSQL 15 (Debian package)"
PACKAGE = "postgresql-15"
BIN = Path("/usr/lib/postgresql/15/bin")


def fingerprint(cfg: Config) -> str:
    return PACKAGE


def artifact(cfg: Config) -> Path:
    return BIN / "postgres"


def build(cfg: Config) -> None:
    if artifact(cfg).exists():
        return
    apt = shutil.which("apt-get")
    if apt is None:
        raise MissingTool(f"PostgreSQL 15 is not installed ({artifact(cfg)} is missing) and apt-get is unavailable",
                          "install PostgreSQL 15 with your package manager so that "
                          f"{BIN}/postgres exists, then rerun `python3 -m medley bootstrap postgres`")
    log = cfg.state_dir / "logs" / "bootstrap-postgres.log"
    run_logged([apt, "update"], log, what="apt-get update")
    run_logged([apt, "install", "-y", "--no-install-recommends", PACKAGE], log,
               env={"DEBIAN_FRONTEND": "noninteractive", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
               what=f"apt-get install {PACKAGE}")
