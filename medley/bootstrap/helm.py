"""Helm 4, built from source through the Go module proxy (no release downloads are reachable here).

`go install` skips the Makefile's ldflags, so `helm version` prints only "v4.3"; Helm reads its
Kubernetes capabilities from debug.BuildInfo, so `helm template`/`lint` behave like a release build.
"""

from __future__ import annotations

from pathlib import Path

from medley.bootstrap import files_digest
from medley.config import Config
from medley.proc import go_install

NAME = "helm"
DESCRIPTION = "Helm 4 CLI (go install from the Go module proxy)"
# Newest Helm 4 tag on proxy.golang.org when pinned (2026-10-15); its go.mod needs go >= 1.26.0.
VERSION = "v4.3.1"
MODULE = "helm.sh/helm/v4/cmd/helm"


def fingerprint(cfg: Config) -> str:
    return f"{VERSION}-{files_digest(Path(__file__))}"


def artifact(cfg: Config) -> Path:
    return cfg.cache_dir / "bin" / "helm"


def build(cfg: Config) -> None:
    go_install(MODULE, VERSION, artifact(cfg).parent, cfg.state_dir / "logs" / "bootstrap-helm.log")
