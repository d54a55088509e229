"""PostgreSQL 15 for Airflow's metadata: Debian 12's `postgresql-15` package, installed if missing.

Only the binaries are used: Medley runs its own cluster under data_dir (medley/services/postgres.py),
never the package's system cluster.
"""

from __future__ import annotations

from pathlib import Path

from medley.config import Config
from medley.proc import apt_install

NAME = "postgres"
DESCRIPTION = "PostgreSQL 15 (Debian package)"
PACKAGE = "postgresql-15"
BIN = Path("/usr/lib/postgresql/15/bin")


def fingerprint(cfg: Config) -> str:
    return PACKAGE


def artifact(cfg: Config) -> Path:
    return BIN / "postgres"


def build(cfg: Config) -> None:
    if not artifact(cfg).exists():
        apt_install(PACKAGE, artifact(cfg), "PostgreSQL 15", cfg.state_dir / "logs" / "bootstrap-postgres.log")
