"""PostgreSQL 15 for Airflow's metadata: Debian 12's `postgresql-15` package, installed if missing.

Only the binaries are used: Medley runs its own cluster under data_dir (medley/services/postgres.py),
never the package's system cluster.
"""

from __future__ import annotations

from pathlib import Path

from medley.bootstrap import debian

NAME = "postgres"
DESCRIPTION = "PostgreSQL 15 (Debian package)"
BIN = Path("/usr/lib/postgresql/15/bin")

fingerprint, artifact, build = debian.package(NAME, "postgresql-15", BIN / "postgres", "PostgreSQL 15")
