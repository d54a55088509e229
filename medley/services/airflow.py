"""Airflow 3: api-server, scheduler, dag-processor and triggerer from their own venv, LocalExecutor,
metadata in the local PostgreSQL (database `airflow`), DAGs from the repo's airflow_dags/.

Log in as services.airflow.admin_user with cfg.secret("airflow_admin_password") (generated once into
state_dir/secrets.env): in the UI, or over REST with POST /auth/token {"username", "password"}, which
returns {"access_token"} for `Authorization: Bearer ...`. That is Airflow 3's simple auth manager,
which keeps its users' passwords in a JSON file; Medley writes that file (0600, under state_dir)
from the same secret on every start. Everything Airflow writes (airflow.cfg, task and DAG-processor
logs) lives under state_dir; the processes' own output goes to state_dir/logs/airflow-*.log.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Callable

import requests

from medley import REPO_ROOT, airflow_pod
from medley.bootstrap import airflow as airflow_build
from medley.config import Config
from medley.errors import ServiceFailed
from medley.proc import run_logged
from medley.services import Service, http_ok, postgres

DATABASE = "airflow"
DAGS = REPO_ROOT / "airflow_dags"
AUTH_MANAGER = "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"


def home(cfg: Config) -> Path:
    path = cfg.state_dir / "airflow"
    path.mkdir(parents=True, exist_ok=True)
    return path


def url(cfg: Config) -> str:
    return f"http://127.0.0.1:{cfg.port('airflow')}"


def admin(cfg: Config) -> tuple[str, str]:
    return cfg.get("services.airflow.admin_user"), cfg.secret("airflow_admin_password")


def _passwords_file(cfg: Config) -> Path:
    return home(cfg) / "simple_auth_manager_passwords.json"


def _fernet_key(cfg: Config) -> str:
    # A generated secret is 32 random bytes in unpadded urlsafe base64; Fernet wants the padding.
    key = cfg.secret("airflow_fernet_key")
    return key + "=" * (-len(key) % 4)


def environment(cfg: Config) -> dict[str, str]:
    user, _ = admin(cfg)
    return {
        # Tasks see the instance they belong to (the test instance's ports and dirs, not the demo's),
        # and import medley from the repo as they do in the image (docker/airflow sets PYTHONPATH).
        **{k: v for k, v in cfg.env.items() if k.startswith("MEDLEY_")},
        "MEDLEY_CONFIG": str(cfg.source),
        "PYTHONPATH": str(REPO_ROOT),
        "AIRFLOW_HOME": str(home(cfg)),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        # LocalExecutor forks this many workers up front, whether or not tasks come
        "AIRFLOW__CORE__PARALLELISM": str(cfg.get("services.airflow.parallelism")),
        "AIRFLOW__CORE__FERNET_KEY": _fernet_key(cfg),
        "AIRFLOW__CORE__AUTH_MANAGER": AUTH_MANAGER,
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{user}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(_passwords_file(cfg)),
        # task processes report to the api-server's execution API; the default names localhost:8080
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{url(cfg)}/execution/",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": postgres.sqlalchemy_url(cfg, DATABASE),
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(cfg.port("airflow")),
        "AIRFLOW__API__BASE_URL": url(cfg),
        # shared by every component: unset, each process would sign with its own random key and
        # reject the others' tokens (task tokens, UI sessions)
        "AIRFLOW__API__SECRET_KEY": cfg.secret("airflow_secret_key"),
        "AIRFLOW__API_AUTH__JWT_SECRET": cfg.secret("airflow_jwt_secret"),
        # the generated secret is 32 bytes: HS256's size (Airflow's default guess, HS512, wants 64)
        "AIRFLOW__API_AUTH__JWT_ALGORITHM": "HS256",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(cfg.state_dir / "logs" / "airflow"),
        "AIRFLOW__LOGGING__DAG_PROCESSOR_CHILD_PROCESS_LOG_DIRECTORY":
            str(cfg.state_dir / "logs" / "airflow" / "dag_processor"),
        # the scheduler's own health endpoint, per process, on loopback (Airflow's default is 0.0.0.0)
        "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "True",
        "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_HOST": "127.0.0.1",
        "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT": str(cfg.port("airflow", "scheduler_health_port")),
    }


def _airflow(cfg: Config) -> str:
    return str(airflow_build.artifact(cfg))


def prepare(cfg: Config) -> None:
    """Database, schema and admin password: cheap when done, so every component runs it."""
    if not postgres.ready(cfg)():
        raise ServiceFailed(f"Airflow needs PostgreSQL on 127.0.0.1:{cfg.port('postgres')}, which does not answer",
                            "start it first: python3 -m medley up postgres")
    created = postgres.ensure_database(cfg, DATABASE)
    user, password = admin(cfg)
    airflow_pod.write_passwords(_passwords_file(cfg), user, password)
    # Migrations depend only on Airflow's own version (and a fresh database needs them anyway).
    version = re.search(r"^apache-airflow-core==\S+", airflow_build.LOCK.read_text(), re.M).group(0)
    stamp = home(cfg) / ".migrated"
    digest = hashlib.sha256(f"{version}:{postgres.sqlalchemy_url(cfg, DATABASE)}".encode()).hexdigest()
    if not created and stamp.exists() and stamp.read_text() == digest:
        return
    run_logged([_airflow(cfg), "db", "migrate"], cfg.state_dir / "logs" / "airflow-prepare.log",
               cwd=home(cfg), env={**os.environ, **environment(cfg)}, what="airflow db migrate")
    stamp.write_text(digest)


def component_healthy(cfg: Config, component: str) -> Callable[[], bool]:
    """The api-server's view of a component: a running job of its kind with a fresh heartbeat."""
    def check() -> bool:
        try:
            health = requests.get(f"{url(cfg)}/api/v2/monitor/health", timeout=2).json()
            return health[component]["status"] == "healthy"
        except (requests.RequestException, ValueError, KeyError, TypeError):
            return False
    return check


def services(cfg: Config) -> list[Service]:
    airflow, env, ready = _airflow(cfg), environment(cfg), lambda: prepare(cfg)
    health_port = cfg.port("airflow", "scheduler_health_port")
    return [
        Service(name="airflow-api-server",
                argv=[airflow, "api-server", "--host", "127.0.0.1", "--port", str(cfg.port("airflow")),
                      "--workers", "1"],
                port=cfg.port("airflow"), env=env, cwd=home(cfg), prepare=ready, timeout_s=300,
                health=http_ok(f"{url(cfg)}/api/v2/monitor/health"), url=url(cfg)),
        # --skip-serve-logs: the log servers bind every interface; with LocalExecutor the api-server
        # reads task logs straight from base_log_folder on this machine instead.
        Service(name="airflow-scheduler", argv=[airflow, "scheduler", "--skip-serve-logs"],
                port=health_port, env=env, cwd=home(cfg), prepare=ready, timeout_s=180,
                health=http_ok(f"http://127.0.0.1:{health_port}/health")),
        # port 0: these two listen on nothing; they only talk to PostgreSQL
        Service(name="airflow-dag-processor", argv=[airflow, "dag-processor"],
                port=0, env=env, cwd=home(cfg), prepare=ready, timeout_s=180,
                health=component_healthy(cfg, "dag_processor")),
        Service(name="airflow-triggerer", argv=[airflow, "triggerer", "--skip-serve-logs"],
                port=0, env=env, cwd=home(cfg), prepare=ready, timeout_s=180,
                health=component_healthy(cfg, "triggerer")),
    ]
