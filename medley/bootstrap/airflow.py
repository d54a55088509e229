"""Apache Airflow 3.3.2 (LocalExecutor, cncf.kubernetes and postgres providers) in its own virtualenv,
built from requirements/airflow.lock.

Airflow 3 needs sqlalchemy>=2 (Superset <2) and the pipeline env carries pyspark, so it shares neither.
"""

from pathlib import Path

from medley import REPO_ROOT
from medley._venv import make_env
from medley.bootstrap import files_digest
from medley.config import Config

NAME = "airflow"
DESCRIPTION = "Apache Airflow 3.3.2 virtualenv (uv, about a minute the first time)"
LOCK = REPO_ROOT / "requirements" / "airflow.lock"


def fingerprint(cfg: Config) -> str:
    return files_digest(LOCK)


def venv(cfg: Config) -> Path:
    return cfg.cache_dir / "venvs" / "airflow"


def artifact(cfg: Config) -> Path:
    return venv(cfg) / "bin" / "airflow"


def build(cfg: Config) -> None:
    make_env("airflow", LOCK)
