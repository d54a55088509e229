"""Superset: gunicorn serving Superset 6.1.0 from its own venv, metadata in SQLite under data_dir.

The config file is rendered from superset_config.py.tmpl into state_dir; SECRET_KEY and the admin
password come from cfg.secret (generated once into state_dir/secrets.env, never committed).
The one-off set-up (db upgrade, admin user, init) is superset/prepare.py, which the bundled
Superset pod runs too; a stamp skips it once done.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from string import Template

from medley import REPO_ROOT
from medley.bootstrap import superset as superset_build
from medley.config import Config
from medley.proc import run_logged
from medley.services import Service, http_ok

TEMPLATE = Path(__file__).with_name("superset_config.py.tmpl")

# db upgrade, admin user, init: run inside the superset venv (the bundled Superset pod runs it too)
PREPARE = REPO_ROOT / "superset" / "prepare.py"


def home(cfg: Config) -> Path:
    path = cfg.data_dir / "superset"
    path.mkdir(parents=True, exist_ok=True)
    return path


def config_path(cfg: Config) -> Path:
    return cfg.state_dir / "superset" / "superset_config.py"


def url(cfg: Config) -> str:
    """services.superset.url (the chart's Superset service), else this machine's."""
    return cfg.get("services.superset.url") or f"http://127.0.0.1:{cfg.port('superset')}"


def admin(cfg: Config) -> tuple[str, str]:
    return cfg.get("services.superset.admin_user"), cfg.secret("superset_admin_password")


def analyst(cfg: Config) -> tuple[str, str]:
    """The read-only analyst login that provisioning creates (role: superset/roles/analyst.yml)."""
    return cfg.get("services.superset.analyst_user"), cfg.secret("superset_analyst_password")


def environment(cfg: Config) -> dict[str, str]:
    return {"SUPERSET_CONFIG_PATH": str(config_path(cfg)),
            "SUPERSET_HOME": str(home(cfg)),
            "SUPERSET_SECRET_KEY": cfg.secret("superset_secret_key")}


def render_config(cfg: Config) -> Path:
    from medley.superset import fab_roles  # the analyst role's one definition, superset/roles/analyst.yml

    text = Template(TEMPLATE.read_text()).substitute(
        db_path=home(cfg) / "superset.db", data_dir=home(cfg), port=cfg.port("superset"),
        fab_roles=repr(fab_roles()))
    out = config_path(cfg)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    return out


def prepare(cfg: Config) -> None:
    render_config(cfg)
    user, password = admin(cfg)
    stamp = home(cfg) / ".prepared"
    # Migrations depend only on Superset's own version, not on the rest of the lock.
    version = re.search(r"^apache-superset==\S+", superset_build.LOCK.read_text(), re.M).group(0)
    digest = hashlib.sha256(f"{version}:{user}:{password}:{PREPARE.read_text()}".encode()).hexdigest()
    if stamp.exists() and stamp.read_text() == digest:
        return
    python = superset_build.venv(cfg) / "bin" / "python"
    env = {**os.environ, **environment(cfg),
           "MEDLEY_SUPERSET_ADMIN_USER": user, "MEDLEY_SUPERSET_ADMIN_PASSWORD": password}
    run_logged([str(python), str(PREPARE)], cfg.state_dir / "logs" / "superset-prepare.log",
               cwd=home(cfg), env=env, what="superset db upgrade / create-admin / init")
    stamp.write_text(digest)


def services(cfg: Config) -> list[Service]:
    port = cfg.port("superset")
    gunicorn = superset_build.venv(cfg) / "bin" / "gunicorn"
    return [Service(
        name="superset",
        # one worker with threads: 2 cores, and SQLite metadata prefers a single process
        argv=[str(gunicorn), "--workers", "1", "--worker-class", "gthread", "--threads", "4",
              "--timeout", "120", "--bind", f"127.0.0.1:{port}", "superset.app:create_app()"],
        port=port,
        env=environment(cfg),
        cwd=home(cfg),
        health=http_ok(f"{url(cfg)}/health"),
        timeout_s=300,
        url=url(cfg),
        prepare=lambda: prepare(cfg),
    )]
