"""A real Kubernetes control plane (kube-apiserver, controller-manager, scheduler, kubectl, etcd)
built from the Go module proxy, for installing the Helm chart against a live API server.

`go install k8s.io/kubernetes/cmd/...@vX` is refused because that module's go.mod has `replace`
directives, so build/go/controlplane/kubernetes is a wrapper module that requires
k8s.io/kubernetes and replaces each of its staging modules with the published v0.<minor>.<patch>.
etcd 3.6 is built the same way (Debian's 3.4 is too old for a 1.37 API server). The pins live in
the wrappers' go.mod files only; this module reads them from there.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from medley import REPO_ROOT
from medley.bootstrap import files_digest
from medley.config import Config
from medley.errors import MedleyError
from medley.proc import require, run_logged

NAME = "controlplane"
DESCRIPTION = "kube-apiserver, controller-manager, scheduler, kubectl and etcd built from source"
WRAPPERS = REPO_ROOT / "build" / "go" / "controlplane"
KUBE_COMMANDS = ["kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl"]
BINARIES = [*KUBE_COMMANDS, "etcd"]


def _required(module_dir: Path, module: str) -> str:
    text = (module_dir / "go.mod").read_text()
    found = re.search(rf"^\s*{re.escape(module)} (v\S+)", text, re.MULTILINE)
    if not found:
        raise MedleyError(f"{module_dir / 'go.mod'} does not require {module}",
                          "restore it from git (see docs/control-plane.md, 'Bumping the pins')")
    return found.group(1)


def kubernetes_version() -> str:
    return _required(WRAPPERS / "kubernetes", "k8s.io/kubernetes")


def etcd_version() -> str:
    return _required(WRAPPERS / "etcd", "go.etcd.io/etcd/server/v3")


def fingerprint(cfg: Config) -> str:
    return f"{kubernetes_version()}-{etcd_version()}-{files_digest(Path(__file__), WRAPPERS)}"


def artifact(cfg: Config) -> Path:
    return bin_dir(cfg)


def bin_dir(cfg: Config) -> Path:
    return cfg.cache_dir / "controlplane" / kubernetes_version() / "bin"


def _version_ldflags(version: str) -> str:
    # Without these /version says v0.0.0-master, which breaks Helm's kubeVersion checks.
    major, minor = version.lstrip("v").split(".")[:2]
    values = {"gitVersion": version, "gitMajor": major, "gitMinor": minor, "gitTreeState": "clean"}
    # component-base for the servers, client-go for kubectl's client version.
    return " ".join(f"-X {pkg}/version.{key}={val}" for key, val in values.items()
                    for pkg in ("k8s.io/component-base", "k8s.io/client-go/pkg"))


def build(cfg: Config) -> None:
    go = require("go")
    out = bin_dir(cfg)
    out.mkdir(parents=True, exist_ok=True)
    log = cfg.state_dir / "logs" / "bootstrap-controlplane.log"
    # Own GOCACHE: Kubernetes' ~4 GB of build objects stay in one place, and deleting
    # cache_dir/controlplane gives a true cold build.
    env = {**os.environ, "CGO_ENABLED": "0", "GOTOOLCHAIN": "local",
           "GOCACHE": str(cfg.cache_dir / "controlplane" / "go-build"),
           "GOFLAGS": f"{os.environ.get('GOFLAGS', '')} -mod=readonly".strip()}
    version = kubernetes_version()
    run_logged([go, "build", "-trimpath", "-ldflags", f"-s -w {_version_ldflags(version)}",
                "-o", f"{out}/", *(f"k8s.io/kubernetes/cmd/{c}" for c in KUBE_COMMANDS)],
               log, cwd=WRAPPERS / "kubernetes", env=env, what=f"go build Kubernetes {version}")
    run_logged([go, "build", "-trimpath", "-ldflags", "-s -w", "-o", str(out / "etcd"),
                "go.etcd.io/etcd/server/v3"],
               log, cwd=WRAPPERS / "etcd", env=env, what=f"go build etcd {etcd_version()}")
