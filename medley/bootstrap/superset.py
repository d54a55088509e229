"""Apache Superset 6.1.0 in its own virtualenv, built from requirements/superset.lock.

Superset pins sqlalchemy<2, so it cannot share an environment with Airflow 3 or the pipeline.
"""

from pathlib import Path

from medley import REPO_ROOT
from medley._venv import make_env
from medley.bootstrap import files_digest
from medley.config import Config

NAME = "superset"
DESCRIPTION = "Apache Superset 6.1.0 virtualenv (uv, about a minute the first time)"
LOCK = REPO_ROOT / "requirements" / "superset.lock"


def fingerprint(cfg: Config) -> str:
    return files_digest(LOCK)


def venv(cfg: Config) -> Path:
    return cfg.cache_dir / "venvs" / "superset"


def artifact(cfg: Config) -> Path:
    return venv(cfg) / "bin" / "superset"


def build(cfg: Config) -> None:
    make_env("superset", LOCK)
