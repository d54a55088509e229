"""The bundled Airflow pod's set-up (core.airflow.bundled: helm/medley-core/templates/airflow/
statefulset.yaml), run by its init container in Medley's Airflow image as `python -m
medley.airflow_pod`, after the pod's PostgreSQL answers on its socket. Idempotent, so it runs on
every start:

- the keys Airflow encrypts and signs with (the Fernet key, the API's secret key, the JWT secret)
  are generated once into $AIRFLOW_HOME/airflow.cfg on the pod's volume (0600). Every container
  reads that file, so all of them sign with the same keys, and no Secret holds them: `helm
  uninstall` leaves only the volume, and a reinstall on it finds its keys again;
- the simple auth manager's password file, from the admin password in the environment
  (MEDLEY_AIRFLOW_ADMIN_PASSWORD, from the credentials Secret you create; never a default);
- the database `airflow` (created once) and `airflow db migrate`.

Only the standard library and psycopg2 (Airflow's postgres provider brings it): the image's Python.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

DATABASE = "airflow"


def write_keys(config_file: Path) -> None:
    if config_file.exists():
        return
    fernet = base64.urlsafe_b64encode(os.urandom(32)).decode()   # Fernet wants padded base64 of 32 bytes
    text = (f"[core]\nfernet_key = {fernet}\n\n"
            f"[api]\nsecret_key = {secrets.token_urlsafe(32)}\n\n"
            # 32 bytes: HS256's size (AIRFLOW__API_AUTH__JWT_ALGORITHM is set to it)
            f"[api_auth]\njwt_secret = {secrets.token_urlsafe(32)}\n")
    fd = os.open(config_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)


def write_passwords(passwords_file: Path, user: str, password: str) -> None:
    fd = os.open(passwords_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump({user: password}, f)


def ensure_database(socket_dir: str, user: str) -> None:
    import psycopg2

    conn = psycopg2.connect(host=socket_dir, user=user, dbname="postgres")
    # CREATE DATABASE cannot run in a transaction (and psycopg2's `with conn` opens one)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,))
            if cur.fetchone() is None:
                cur.execute(f'CREATE DATABASE "{DATABASE}"')
    finally:
        conn.close()


def main() -> int:
    env = os.environ
    password = env.get("MEDLEY_AIRFLOW_ADMIN_PASSWORD", "")
    if not password:
        print("medley.airflow_pod: error: MEDLEY_AIRFLOW_ADMIN_PASSWORD is empty -> create the credentials "
              "Secret with key admin-password (docs/kubernetes.md)", file=sys.stderr)
        return 2
    home = Path(env["AIRFLOW_HOME"])
    (home / "logs").mkdir(parents=True, exist_ok=True)
    write_keys(home / "airflow.cfg")
    write_passwords(Path(env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"]),
                    env["MEDLEY_AIRFLOW_ADMIN_USER"], password)
    ensure_database(env["MEDLEY_AIRFLOW_POSTGRES_SOCKET_DIR"], env["MEDLEY_AIRFLOW_POSTGRES_USER"])
    return subprocess.run(["airflow", "db", "migrate"]).returncode


if __name__ == "__main__":
    sys.exit(main())
