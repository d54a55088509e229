"""medley/airflow_pod.py, the bundled Airflow pod's set-up: its keys are made once and kept, and
the admin's password file follows the Secret (the set-up itself runs on the node:
tests/k8s/test_cluster_pipeline.py)."""

import base64
import configparser
import json
import stat

from medley import airflow_pod


def test_keys_are_generated_once_private_and_in_airflows_formats(tmp_path):
    cfg_file = tmp_path / "airflow.cfg"
    airflow_pod.write_keys(cfg_file)
    first = cfg_file.read_text()
    airflow_pod.write_keys(cfg_file)                     # a restart finds them again
    assert cfg_file.read_text() == first
    assert stat.S_IMODE(cfg_file.stat().st_mode) == 0o600
    parsed = configparser.ConfigParser()
    parsed.read_string(first)
    assert len(base64.urlsafe_b64decode(parsed["core"]["fernet_key"])) == 32      # a Fernet key
    assert len(base64.urlsafe_b64decode(parsed["api_auth"]["jwt_secret"] + "=")) == 32   # HS256's size
    assert parsed["api"]["secret_key"]
    other = tmp_path / "other.cfg"
    airflow_pod.write_keys(other)
    assert other.read_text() != first


def test_the_password_file_follows_the_secret(tmp_path):
    passwords = tmp_path / "passwords.json"
    airflow_pod.write_passwords(passwords, "admin", "first")
    airflow_pod.write_passwords(passwords, "admin", "rotated")
    assert json.loads(passwords.read_text()) == {"admin": "rotated"}
    assert stat.S_IMODE(passwords.stat().st_mode) == 0o600


def test_no_admin_password_is_a_clear_error(monkeypatch, capsys):
    monkeypatch.setenv("MEDLEY_AIRFLOW_ADMIN_PASSWORD", "")
    assert airflow_pod.main() == 2
    assert "create the credentials Secret with key admin-password" in capsys.readouterr().err
