"""MinIO server, built with `go install` (upstream is archived and ships source only).

The Go proxy no longer serves the last RELEASE tag by name, so we pin the pseudo-version of the
final commit on the archived main branch (2026-02-12; code identical to the last release line).
"""

from pathlib import Path

from medley.config import Config
from medley.proc import go_install

NAME = "minio"
DESCRIPTION = "MinIO server (go install, a few minutes the first time)"
MODULE = "github.com/minio/minio"
VERSION = "v0.0.0-20260212201848-7aac2a2c5b7c"


def fingerprint(cfg: Config) -> str:
    return f"{MODULE}@{VERSION}"


def artifact(cfg: Config) -> Path:
    return cfg.cache_dir / "bin" / f"minio-{VERSION}" / "minio"


def build(cfg: Config) -> None:
    go_install(MODULE, VERSION, artifact(cfg).parent, cfg.state_dir / "logs" / "bootstrap-minio.log")
