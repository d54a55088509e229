"""Configuration: medley.yaml (or $MEDLEY_CONFIG) overlaid with MEDLEY_<SECTION>__<KEY> variables."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import yaml

from medley import REPO_ROOT


def _overlay(tree: dict, env: Mapping[str, str]) -> dict:
    for name, value in env.items():
        if not name.startswith("MEDLEY_") or "__" not in name:
            continue
        path = name[len("MEDLEY_"):].lower().split("__")
        node = tree
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = yaml.safe_load(value)
    return tree


@dataclass(frozen=True)
class Config:
    raw: dict
    source: Path
    # the environment it was loaded from: secrets are read from it too (never shown in a repr)
    env: Mapping[str, str] = field(repr=False)

    def get(self, dotted: str, default: Any = None) -> Any:
        node: Any = self.raw
        for part in dotted.split("."):
            if not isinstance(node, dict) or part not in node:
                return default
            node = node[part]
        return node

    def path(self, key: str) -> Path:
        p = Path(self.get(f"paths.{key}")).expanduser()
        p.mkdir(parents=True, exist_ok=True)
        return p

    @property
    def cache_dir(self) -> Path:
        return self.path("cache_dir")

    @property
    def data_dir(self) -> Path:
        return self.path("data_dir")

    @property
    def state_dir(self) -> Path:
        return self.path("state_dir")

    def port(self, service: str, name: str = "port") -> int:
        return int(self.get(f"services.{service}.{name}"))

    # Credentials: the environment wins; otherwise generated once per state_dir, never committed.
    def secret(self, name: str) -> str:
        given = self.env.get(f"MEDLEY_{name.upper()}")
        if given:
            return given
        store = self.state_dir / "secrets.env"
        known = {}
        if store.exists():
            known = dict(line.split("=", 1) for line in store.read_text().splitlines() if "=" in line)
        if name not in known:
            known[name] = secrets.token_urlsafe(32)  # >= 32 bytes: Superset signs JWTs with it
            # created 0600, never readable by others even for a moment
            fd = os.open(store, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write("".join(f"{k}={v}\n" for k, v in known.items()))
            store.chmod(0o600)   # a file from before keeps its mode on O_CREAT
        return known[name]

    @property
    def s3_access_key(self) -> str:
        return self.secret("s3_access_key")

    @property
    def s3_secret_key(self) -> str:
        return self.secret("s3_secret_key")


def instance_env(home: Path, port_offset: int) -> dict[str, str]:
    """MEDLEY_ variables of a second instance beside the default one (tests, benches): data and
    state under home, every port of medley.yaml moved by port_offset, the object store at the moved
    MinIO port. Keep every moved port below 32768, out of Linux's ephemeral range (`medley up`
    refuses one inside it)."""
    defaults = load({"MEDLEY_CONFIG": str(REPO_ROOT / "medley.yaml")})
    ports = {f"MEDLEY_SERVICES__{svc.upper()}__{key.upper()}": str(value + port_offset)
             for svc, keys in defaults.get("services").items() for key, value in keys.items()
             if key.endswith(("port", "port_start"))}
    return {"MEDLEY_PATHS__DATA_DIR": str(home / "data"), "MEDLEY_PATHS__STATE_DIR": str(home / "state"),
            "MEDLEY_STORAGE__ENDPOINT": f"http://127.0.0.1:{defaults.port('minio') + port_offset}", **ports}


def load(env: Mapping[str, str] | None = None) -> Config:
    env = os.environ if env is None else env
    source = Path(env.get("MEDLEY_CONFIG", REPO_ROOT / "medley.yaml"))
    tree = yaml.safe_load(source.read_text()) or {}
    return Config(_overlay(tree, env), source, dict(env))
