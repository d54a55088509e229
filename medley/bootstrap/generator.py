"""The event generator's simulation core: a small Go program built from medley/generator/go.

It has no dependencies outside Go's standard library, so the build needs no network.
"""

from __future__ import annotations

import os
from pathlib import Path

from medley import REPO_ROOT
from medley.bootstrap import files_digest
from medley.config import Config
from medley.proc import require, run_logged

NAME = "generator"
DESCRIPTION = "EventSim-compatible generator core (go build, standard library only)"
SOURCE = REPO_ROOT / "medley" / "generator" / "go"


def fingerprint(cfg: Config) -> str:
    return files_digest(SOURCE, Path(__file__))


def artifact(cfg: Config) -> Path:
    return cfg.cache_dir / "bin" / "medley-eventsim"


def build(cfg: Config) -> None:
    go = require("go")
    out = artifact(cfg)
    out.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "CGO_ENABLED": "0", "GOTOOLCHAIN": "local", "GOFLAGS": "-mod=mod"}
    run_logged([go, "build", "-trimpath", "-o", str(out), "."], cfg.state_dir / "logs" / "bootstrap-generator.log",
               cwd=SOURCE, env=env, what="go build (medley/generator/go)")
