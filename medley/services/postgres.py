"""PostgreSQL: Airflow's metadata database. One cluster under data_dir, TCP on 127.0.0.1 only.

The superuser `medley` logs in with cfg.secret("postgres_password") (scram-sha-256); the cluster has
no Unix socket, so every client, local or not, goes through that password.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
from pathlib import Path
from typing import Callable
from urllib.parse import quote

from medley.bootstrap import postgres as postgres_build
from medley.config import Config
from medley.errors import MissingTool, ServiceFailed
from medley.proc import require, run_logged
from medley.services import Service

SUPERUSER = "medley"
# Owner of the Debian package's files; its uid is what PostgreSQL sees when Medley runs as root.
SYSTEM_USER = "postgres"


def data(cfg: Config) -> Path:
    return cfg.data_dir / "postgres"


def password(cfg: Config) -> str:
    return cfg.secret("postgres_password")


def _unprivileged(argv: list[str]) -> list[str]:
    """argv as PostgreSQL accepts it: it refuses to run as root.

    As root, run it in a user namespace where root is mapped to the `postgres` system user: there it
    is not uid 0 and holds no capabilities, yet on disk it still acts as Medley's own user, so it can
    enter data_dir under a 0700 /root (which the real `postgres` user could not) and everything it
    writes stays owned by the user that runs Medley. Any other user runs it directly.
    """
    if os.geteuid() != 0:
        return argv
    return ["unshare", "--user", f"--map-user={SYSTEM_USER}", f"--map-group={SYSTEM_USER}", "--", *argv]


def _check_runnable() -> None:
    if os.geteuid() != 0:
        return
    require("unshare")
    try:
        pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        raise MissingTool(f"there is no '{SYSTEM_USER}' user to run PostgreSQL as (Medley runs as root)",
                          "run `python3 -m medley bootstrap postgres` (Debian's package creates it)") from None


def prepare(cfg: Config) -> None:
    """Create the cluster once. initdb writes into a scratch directory that is renamed into place
    only when it succeeds, so an interrupted run never leaves a half-made cluster behind."""
    _check_runnable()
    if (data(cfg) / "PG_VERSION").exists():
        return
    scratch = data(cfg).with_name("postgres.initdb")
    shutil.rmtree(scratch, ignore_errors=True)
    pwfile = cfg.state_dir / "postgres" / "initdb.pw"
    pwfile.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(password(cfg) + "\n")
    try:
        run_logged(_unprivileged([str(postgres_build.BIN / "initdb"), "-D", str(scratch), "-U", SUPERUSER,
                                  f"--pwfile={pwfile}", "--auth=scram-sha-256", "-E", "UTF8",
                                  "--locale=C.UTF-8"]),
                   cfg.state_dir / "logs" / "postgres-initdb.log", what="initdb")
    finally:
        pwfile.unlink(missing_ok=True)
    scratch.rename(data(cfg))


def _client_env(cfg: Config) -> dict[str, str]:
    # libpq reads the password from the environment, never from argv (where `ps` shows it)
    return {**os.environ, "PGPASSWORD": password(cfg), "PGCONNECT_TIMEOUT": "5"}


def _client(cfg: Config, tool: str) -> list[str]:
    return [str(postgres_build.BIN / tool), "-h", "127.0.0.1", "-p", str(cfg.port("postgres")),
            "-U", SUPERUSER]


def ensure_database(cfg: Config, name: str) -> bool:
    """Create database `name` unless it exists; True when it was created (so its schema is empty)."""
    query = subprocess.run([*_client(cfg, "psql"), "-w", "-d", "postgres", "-tAc",
                            f"SELECT 1 FROM pg_database WHERE datname = '{name}'"],
                           env=_client_env(cfg), capture_output=True, text=True)
    if query.returncode != 0:
        reason = (query.stderr.strip().splitlines() or [f"psql exit {query.returncode}"])[-1]
        fix = (f"{data(cfg)} was created with another postgres_password: put that one back into "
               f"{cfg.state_dir / 'secrets.env'} (or MEDLEY_POSTGRES_PASSWORD), or remove {data(cfg)}"
               if "password authentication failed" in reason else f"read {cfg.state_dir / 'logs' / 'postgres.log'}")
        raise ServiceFailed(f"postgres on 127.0.0.1:{cfg.port('postgres')} refused a query: {reason}", fix)
    if query.stdout.strip() == "1":
        return False
    run_logged([*_client(cfg, "createdb"), "-w", name], cfg.state_dir / "logs" / "postgres-createdb.log",
               env=_client_env(cfg), what=f"createdb {name}")
    return True


def sqlalchemy_url(cfg: Config, database: str) -> str:
    secret = quote(password(cfg), safe="")   # a password given in the environment may hold anything
    return f"postgresql+psycopg2://{SUPERUSER}:{secret}@127.0.0.1:{cfg.port('postgres')}/{database}"


def ready(cfg: Config) -> Callable[[], bool]:
    def check() -> bool:
        try:
            return subprocess.run([*_client(cfg, "pg_isready"), "-d", "postgres"], env=_client_env(cfg),
                                  capture_output=True, timeout=5).returncode == 0
        except subprocess.TimeoutExpired:
            return False
    return check


def services(cfg: Config) -> list[Service]:
    port = cfg.port("postgres")
    return [Service(
        name="postgres",
        # The package's postgres binary, its own cluster; no Unix socket (its default directory
        # belongs to the system cluster), server log on stderr into Medley's log file.
        argv=_unprivileged([str(postgres_build.artifact(cfg)), "-D", str(data(cfg)), "-p", str(port),
                            "-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=",
                            "-c", "logging_collector=off"]),
        port=port,
        health=ready(cfg),
        timeout_s=60,
        url=f"postgresql://{SUPERUSER}@127.0.0.1:{port}",
        prepare=lambda: prepare(cfg),
    )]
