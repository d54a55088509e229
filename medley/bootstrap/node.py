"""What a real single-node cluster runs besides the control plane, all built on this machine.

- kubelet and kube-proxy: built from k8s.io/kubernetes on the Go proxy like the control plane
  (build/go/node/kubernetes pins the same release and adds the kubelet's and kube-proxy's
  dependencies to go.sum), with the same version ldflags and the same Go build cache;
- containerd, runc, the CNI plugins and iptables: Debian packages;
- CoreDNS and rancher's local-path-provisioner: built from the Go proxy (build/go/node/*);
- images, because no registry is reachable: `pause` (build/go/node/pause/pause.c, compiled
  statically with gcc), CoreDNS, the provisioner, and a busybox (Debian's static build) for the
  provisioner's helper pods and for tests. Each is one layer on an empty base (FROM scratch),
  written directly as a `docker save` archive that `ctr images import` loads.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import tarfile
from pathlib import Path

from medley import REPO_ROOT
from medley.bootstrap import controlplane, files_digest
from medley.config import Config
from medley.proc import apt_install, require, run_logged

NAME = "node"
DESCRIPTION = "kubelet, kube-proxy, CoreDNS, local-path-provisioner, containerd and node images"
WRAPPERS = REPO_ROOT / "build" / "go" / "node"
KUBE_COMMANDS = ["kubelet", "kube-proxy"]
# Debian package -> a file it installs.
DEBIAN = {"containerd": Path("/usr/bin/containerd"), "runc": Path("/usr/sbin/runc"),
          "containernetworking-plugins": Path("/usr/lib/cni/bridge"), "iptables": Path("/usr/sbin/iptables"),
          "busybox-static": Path("/bin/busybox")}
CNI_BIN_DIR = Path("/usr/lib/cni")
# Image references the node's manifests use; tags name what is inside.
PAUSE_IMAGE = "medley/pause:3.10"
BUSYBOX_IMAGE = "medley/busybox:1.35"


def kubernetes_version() -> str:
    return controlplane._required(WRAPPERS / "kubernetes", "k8s.io/kubernetes")


def coredns_version() -> str:
    return controlplane._required(WRAPPERS / "coredns", "github.com/coredns/coredns")


def provisioner_version() -> str:
    return controlplane._required(WRAPPERS / "local-path-provisioner", "github.com/rancher/local-path-provisioner")


def coredns_image() -> str:
    return f"medley/coredns:{coredns_version()}"


def provisioner_image() -> str:
    return f"medley/local-path-provisioner:{provisioner_version()}"


def fingerprint(cfg: Config) -> str:
    return f"{kubernetes_version()}-{files_digest(Path(__file__), WRAPPERS)}"


def root(cfg: Config) -> Path:
    return cfg.cache_dir / "node" / kubernetes_version()


def bin_dir(cfg: Config) -> Path:
    return root(cfg) / "bin"


def images_dir(cfg: Config) -> Path:
    return root(cfg) / "images"


def artifact(cfg: Config) -> Path:
    return images_dir(cfg)


def build(cfg: Config) -> None:
    log = cfg.state_dir / "logs" / "bootstrap-node.log"
    for package, provides in DEBIAN.items():
        if not provides.exists():
            apt_install(package, provides, package, log)
    out = bin_dir(cfg)
    out.mkdir(parents=True, exist_ok=True)
    go = require("go")
    # The control plane's build cache: kubelet and kube-proxy share most packages with it.
    env = {**os.environ, "CGO_ENABLED": "0", "GOTOOLCHAIN": "local", "GOWORK": "off",
           "GOCACHE": str(cfg.cache_dir / "controlplane" / "go-build"),
           "GOFLAGS": f"{os.environ.get('GOFLAGS', '')} -mod=readonly".strip()}
    version = kubernetes_version()
    nice = ["nice", "-n", "10"]   # minutes of CPU on a shared machine
    run_logged([*nice, go, "build", "-trimpath", "-ldflags", f"-s -w {controlplane._version_ldflags(version)}",
                "-o", f"{out}/", *(f"k8s.io/kubernetes/cmd/{c}" for c in KUBE_COMMANDS)],
               log, cwd=WRAPPERS / "kubernetes", env=env, what=f"go build kubelet and kube-proxy {version}")
    run_logged([*nice, go, "build", "-trimpath", "-ldflags", "-s -w", "-o", str(out / "coredns"),
                "github.com/coredns/coredns"],
               log, cwd=WRAPPERS / "coredns", env=env, what=f"go build CoreDNS {coredns_version()}")
    run_logged([*nice, go, "build", "-trimpath", "-ldflags", "-s -w", "-o", str(out / "local-path-provisioner"),
                "github.com/rancher/local-path-provisioner"],
               log, cwd=WRAPPERS / "local-path-provisioner", env=env,
               what=f"go build local-path-provisioner {provisioner_version()}")
    run_logged([require("gcc"), "-static", "-O2", "-s", "-Wall", "-o", str(out / "pause"),
                str(WRAPPERS / "pause" / "pause.c")], log, what="gcc pause.c")

    images = images_dir(cfg)
    images.mkdir(parents=True, exist_ok=True)
    write_image(images / "pause.tar", PAUSE_IMAGE, {"pause": out / "pause"}, ["/pause"])
    write_image(images / "coredns.tar", coredns_image(), {"coredns": out / "coredns"}, ["/coredns"])
    write_image(images / "local-path-provisioner.tar", provisioner_image(),
                {"bin/local-path-provisioner": out / "local-path-provisioner"}, ["local-path-provisioner"])
    applets = subprocess.run(["/bin/busybox", "--list"], capture_output=True, text=True, check=True).stdout.split()
    write_image(images / "busybox.tar", BUSYBOX_IMAGE, {"bin/busybox": Path("/bin/busybox")}, cmd=["sh"],
                links={f"bin/{a}": "busybox" for a in applets if a != "busybox"})


def write_image(archive: Path, ref: str, files: dict[str, Path], entrypoint: list[str] | None = None,
                links: dict[str, str] | None = None, cmd: list[str] | None = None) -> None:
    """A one-layer image on an empty base, in the `docker save` layout (manifest.json + RepoTags),
    which `ctr images import` names by its tag. Files are root-owned and executable."""
    layer = io.BytesIO()
    with tarfile.open(fileobj=layer, mode="w") as tar:
        dirs = sorted({str(Path(p).parent) for p in [*files, *(links or {})]} - {"."})
        for d in dirs:
            info = tarfile.TarInfo(d)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(info)
        for inside, source in sorted(files.items()):
            info = tarfile.TarInfo(inside)
            info.size, info.mode = source.stat().st_size, 0o755
            with source.open("rb") as f:
                tar.addfile(info, f)
        for inside, target in sorted((links or {}).items()):
            info = tarfile.TarInfo(inside)
            info.type, info.linkname, info.mode = tarfile.SYMTYPE, target, 0o777
            tar.addfile(info)
    layer_bytes = layer.getvalue()
    diff_id = hashlib.sha256(layer_bytes).hexdigest()
    config = json.dumps({
        "architecture": "amd64", "os": "linux",
        "config": {"Entrypoint": entrypoint, "Cmd": cmd, "Env": ["PATH=/bin:/"]},
        "rootfs": {"type": "layers", "diff_ids": [f"sha256:{diff_id}"]},
    }).encode()
    config_name = f"{hashlib.sha256(config).hexdigest()}.json"
    manifest = json.dumps([{"Config": config_name, "RepoTags": [ref], "Layers": [f"{diff_id}/layer.tar"]}]).encode()
    tmp = archive.with_suffix(".tmp")
    with tarfile.open(tmp, mode="w") as out:
        for name, data in ((f"{diff_id}/layer.tar", layer_bytes), (config_name, config), ("manifest.json", manifest)):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            out.addfile(info, io.BytesIO(data))
    tmp.replace(archive)
