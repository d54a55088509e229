"""medley.yaml overlaid by MEDLEY_<SECTION>__<KEY> variables, MEDLEY_CONFIG, and where secrets come
from: the environment given to `config.load`, else a file generated once (0600) in the state dir."""

from __future__ import annotations

import stat

from medley import config

BASE = """
paths:
  state_dir: {state}
services:
  minio:
    port: 9000
spark:
  master: local[2]
quality:
  quarantine_max_rate: 0.05
"""


def write_config(tmp_path) -> dict[str, str]:
    path = tmp_path / "medley.yaml"
    path.write_text(BASE.format(state=tmp_path / "state"))
    return {"MEDLEY_CONFIG": str(path)}


def test_medley_config_names_the_file(tmp_path):
    cfg = config.load(write_config(tmp_path))
    assert cfg.source == tmp_path / "medley.yaml"
    assert cfg.get("services.minio.port") == 9000 and cfg.get("spark.master") == "local[2]"


def test_overlay_converts_yaml_types(tmp_path):
    env = {**write_config(tmp_path), "MEDLEY_SERVICES__MINIO__PORT": "9100",
           "MEDLEY_QUALITY__QUARANTINE_MAX_RATE": "0", "MEDLEY_STORAGE__PATH_STYLE": "false",
           "MEDLEY_SPARK__MASTER": "local[4]", "MEDLEY_SPARK__DRIVER_MEMORY": "3g"}
    cfg = config.load(env)
    assert cfg.get("services.minio.port") == 9100 and cfg.port("minio") == 9100
    assert cfg.get("quality.quarantine_max_rate") == 0
    assert cfg.get("storage.path_style") is False
    assert cfg.get("spark.master") == "local[4]" and cfg.get("spark.driver_memory") == "3g"


def test_overlay_creates_nested_keys_and_keeps_siblings(tmp_path):
    env = {**write_config(tmp_path), "MEDLEY_SERVICES__DRUID__ROUTER_PORT": "18888",
           "MEDLEY_SERVICES__MINIO__CONSOLE_PORT": "9101"}
    cfg = config.load(env)
    assert cfg.get("services.druid") == {"router_port": 18888}
    assert cfg.get("services.minio") == {"port": 9000, "console_port": 9101}


def test_variables_that_are_not_overrides_are_ignored(tmp_path):
    env = {**write_config(tmp_path), "MEDLEY_NO_VENV": "1", "MEDLEY_S3_ACCESS_KEY": "ak",
           "OTHER__KEY": "x"}
    cfg = config.load(env)
    assert "no_venv" not in cfg.raw and "s3_access_key" not in cfg.raw and "other" not in cfg.raw


def test_missing_key_gives_the_default(tmp_path):
    cfg = config.load(write_config(tmp_path))
    assert cfg.get("services.superset.port", 8088) == 8088
    assert cfg.get("spark.master.deeper") is None


def test_secret_comes_from_the_environment_given_to_load(tmp_path, monkeypatch):
    monkeypatch.delenv("MEDLEY_S3_ACCESS_KEY", raising=False)
    cfg = config.load({**write_config(tmp_path), "MEDLEY_S3_ACCESS_KEY": "given-ak"})
    assert cfg.s3_access_key == "given-ak"
    assert not (tmp_path / "state" / "secrets.env").exists()
    assert "given-ak" not in repr(cfg)


def test_process_environment_does_not_override_the_given_one(tmp_path, monkeypatch):
    monkeypatch.setenv("MEDLEY_S3_SECRET_KEY", "from-the-process")
    cfg = config.load({**write_config(tmp_path), "MEDLEY_S3_SECRET_KEY": "given-sk"})
    assert cfg.s3_secret_key == "given-sk"
    generated = config.load(write_config(tmp_path)).s3_secret_key
    assert generated != "from-the-process"


def test_generated_secret_is_stable_and_private(tmp_path):
    env = write_config(tmp_path)
    first = config.load(env).secret("superset_admin_password")
    assert len(first) >= 32
    assert config.load(env).secret("superset_admin_password") == first
    store = tmp_path / "state" / "secrets.env"
    assert stat.S_IMODE(store.stat().st_mode) == 0o600
    assert f"superset_admin_password={first}\n" in store.read_text()
    assert config.load(env).secret("other") != first
