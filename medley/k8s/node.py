"""A real single-node Kubernetes cluster on this machine, as processes started and stopped by pid.

The control plane of medley/k8s/controlplane.py (plus the scheduler) listens on ADDRESS, on an
interface of the node's own, so that pods reach it through the `kubernetes` Service. Beside it:
containerd with its own config, root, state and socket under the node's home; kubelet; kube-proxy
in iptables mode; a CNI bridge with host-local IPAM; then CoreDNS and a local-path storage class
as Deployments. Every address is in 198.18.0.0/15 (reserved for benchmarks), so nothing collides
with a real network and all traffic stays on this machine.

Two things of this machine shape the set-up (docs/control-plane.md, "Real node"):
- root's capability bounding set lacks CAP_SYS_RESOURCE, so runc refuses any spec that asks for
  it or for a negative oomScoreAdj (kubelet asks -998 for every sandbox): containerd runs runc
  through RUNC_WRAPPER, which drops both from the spec;
- the kernel has cgroup v1 hierarchies: kubelet uses the cgroupfs driver and failCgroupV1: false.

Teardown does not rely on kubelet or the CRI cleaning up: it kills every task, then removes what
the node created on the host (mounts under its home, network namespaces holding pod addresses,
the node's two interfaces, KUBE-/CNI- iptables chains, kubepods cgroups, sysctls it set).
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import yaml

from medley.config import Config
from medley.errors import ServiceFailed
from medley.k8s.controlplane import Cluster, ControlPlane, Ports, _is_zombie, _terminate
from medley.proc import run_logged, tail

NODE_NAME = "medley-node"
NODE_INTERFACE = "medley0"
BRIDGE = "medley-cni0"
ADDRESS = "198.19.255.1"           # API server, etcd, kubelet, kube-proxy: on NODE_INTERFACE
CLUSTER_CIDR = "198.18.0.0/16"
POD_SUBNET = "198.18.0.0/24"       # this node's pods, on BRIDGE
SERVICE_CIDR = "198.19.0.0/24"
DNS_SERVICE_IP = "198.19.0.10"
CLUSTER_DOMAIN = "cluster.local"
STORAGE_CLASS = "local-path"
KUBELET_PORT, KUBELET_HEALTHZ_PORT, PROXY_HEALTHZ_PORT, PROXY_METRICS_PORT = 10250, 10248, 10256, 10249
NODE_DAEMONS = ["containerd", "kubelet", "kube-proxy"]   # start order; stop runs in reverse
# Set on up (pods' traffic is routed and bridged through iptables), restored on down.
SYSCTLS = {"net/ipv4/ip_forward": "1", "net/bridge/bridge-nf-call-iptables": "1"}
READY_TIMEOUT_S = 180
HOST_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
REAL_RUNC = "/usr/sbin/runc"
# containerd's runc: CAP_SYS_RESOURCE is outside the bounding set and a negative oom_score_adj needs
# it, so both are taken out of the OCI spec (bundle config.json on create/run, --process on exec).
RUNC_WRAPPER = '''#!/usr/bin/python3 -I
"""runc for the Medley node: drops CAP_SYS_RESOURCE and negative oomScoreAdj, then runs runc."""
import json, os, sys

args = sys.argv[1:]

def value(*names):
    for i, arg in enumerate(args):
        for name in names:
            if arg == name and i + 1 < len(args):
                return args[i + 1]
            if arg.startswith(name + "="):
                return arg[len(name) + 1:]
    return None

def fix(process):
    for caps in (process.get("capabilities") or {{}}).values():
        while "CAP_SYS_RESOURCE" in caps:
            caps.remove("CAP_SYS_RESOURCE")
    if process.get("oomScoreAdj", 0) < 0:
        process["oomScoreAdj"] = 0

def rewrite(path, process_of):
    with open(path) as f:
        doc = json.load(f)
    fix(process_of(doc))
    with open(path, "w") as f:
        json.dump(doc, f)

command = next((a for a in args if not a.startswith("-") and a in ("create", "run", "exec")), None)
if command in ("create", "run"):
    rewrite(os.path.join(value("--bundle", "-b") or ".", "config.json"), lambda spec: spec.setdefault("process", {{}}))
elif command == "exec" and value("--process", "-p"):
    rewrite(value("--process", "-p"), lambda process: process)
os.execv({real!r}, [{real!r}, *args])
'''


@dataclass(frozen=True)
class Leftovers:
    """What of a node is still on the host; empty after a clean teardown."""

    processes: list[str]
    mounts: list[str]
    netns: list[str]
    interfaces: list[str]
    iptables: list[str]

    def __bool__(self) -> bool:
        return any((self.processes, self.mounts, self.netns, self.interfaces, self.iptables))


class Node:
    """One node rooted at `home`: the control plane's files, containerd, kubelet and CNI state."""

    def __init__(self, cfg: Config, home: Path, ports: Ports, app_images: bool = True):
        from medley.bootstrap import controlplane, node

        # app_images=False: only the node's own images (a test node needs no 5 GB of Spark).
        self.cfg, self.home, self.app_images = cfg, home, app_images
        self.bin_dir = node.bin_dir(cfg)
        self.images_dir = node.images_dir(cfg)
        self.run_dir = home / "run"
        self.log_dir = home / "logs"
        self.socket = self.run_dir / "containerd.sock"
        self.plane = ControlPlane(controlplane.bin_dir(cfg), home / "k8s", home / "etcd", self.log_dir, ports,
                                  address=ADDRESS, service_cidr=SERVICE_CIDR, for_node=True)
        self._children: dict[str, subprocess.Popen] = {}

    @classmethod
    def for_config(cls, cfg: Config, home: Path | None = None, app_images: bool = True,
                   **ports: int | None) -> "Node":
        home = home or Path(cfg.get("k8s.node.home", "~/.local/share/medley-node")).expanduser()
        return cls(cfg, home, Ports.from_config(cfg, **ports), app_images)

    # ---- layout -------------------------------------------------------------------------------
    def binary(self, name: str) -> Path:
        return Path("/usr/bin/containerd") if name == "containerd" else self.bin_dir / name

    def pidfile(self, name: str) -> Path:
        return self.run_dir / f"{name}.pid"

    def log(self, name: str) -> Path:
        return self.log_dir / f"node-{name}.log"

    def ctr(self, *args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run(["ctr", "--address", str(self.socket), "--namespace", "k8s.io", *args],
                              capture_output=True, text=True, check=check, timeout=timeout)

    # ---- up -----------------------------------------------------------------------------------
    def start(self) -> Cluster:
        from medley.bootstrap import ensure

        ensure(self.cfg, "controlplane")
        ensure(self.cfg, "node")
        running = [n for n in [*NODE_DAEMONS, *self.plane.components] if self.running_pid(n)]
        if running or _interface_exists(NODE_INTERFACE):
            raise ServiceFailed(f"a Medley node is already up on this machine ({', '.join(running) or NODE_INTERFACE})",
                                "run `medley k8s down` first")
        for d in (self.run_dir, self.log_dir, self.home / "cni" / "net.d", self.home / "storage"):
            d.mkdir(parents=True, exist_ok=True)
        try:
            self._host_network()
            self._kubelet_client_pki()
            cluster = self.plane.start()
            self._write_files()
            self._launch("containerd", ["--config", str(self.home / "containerd" / "config.toml")],
                         lambda: self.ctr("version", check=False, timeout=10).returncode == 0 and self._cri_serving())
            self.import_images()
            self._launch("kubelet", [f"--config={self.home / 'kubelet.yaml'}", f"--kubeconfig={self.plane.kubeconfig}",
                                     f"--root-dir={self.home / 'kubelet'}", f"--hostname-override={NODE_NAME}",
                                     f"--node-ip={ADDRESS}"],
                         lambda: _http_ok(f"http://{ADDRESS}:{KUBELET_HEALTHZ_PORT}/healthz"))
            self._launch("kube-proxy", [f"--config={self.home / 'kube-proxy.yaml'}"],
                         lambda: _http_ok(f"http://{ADDRESS}:{PROXY_HEALTHZ_PORT}/healthz"))
            self._wait(cluster, "node Ready", lambda: cluster.kubectl(
                "get", "node", NODE_NAME, "-o", "jsonpath={.status.conditions[?(@.type=='Ready')].status}",
                check=False).stdout == "True")
            self._addons(cluster)
        except BaseException:
            self.stop()
            raise
        return cluster

    def _cri_serving(self) -> bool:
        """containerd answers `ctr` before its CRI has recovered its state; until then the CRI
        refuses calls ("server is not initialized yet") and kubelet exits instead of retrying (it
        did, under load). The CRI logs this line just before it starts serving."""
        text = self.log("containerd").read_text(errors="replace")
        return "Start streaming server" in text[text.rfind("\n$ "):]

    def _host_network(self) -> None:
        previous = {key: Path("/proc/sys", key).read_text().strip() for key in SYSCTLS}
        (self.run_dir / "sysctls.json").write_text(json.dumps(previous))
        for key, value in SYSCTLS.items():
            Path("/proc/sys", key).write_text(value)
        # A bridge without ports, as an interface of the node's own: this kernel has no dummy driver.
        _ip("link", "add", NODE_INTERFACE, "type", "bridge")
        _ip("addr", "add", f"{ADDRESS}/32", "dev", NODE_INTERFACE)
        _ip("link", "set", NODE_INTERFACE, "up")

    def _kubelet_client_pki(self) -> None:
        """A CA that kubelet trusts for client certificates, and the API server's certificate from it
        (in system:masters, so kubelet's webhook authorization allows logs and exec)."""
        pki = self.plane.pki
        pki.mkdir(parents=True, exist_ok=True)
        ca, ca_key = pki / "kubelet-client-ca.crt", pki / "kubelet-client-ca.key"
        cert, key, csr = pki / "kubelet-client.crt", pki / "kubelet-client.key", pki / "kubelet-client.csr"
        if cert.exists():
            return
        log = self.log("keys")
        for out in (ca_key, key):
            run_logged(["openssl", "ecparam", "-genkey", "-name", "prime256v1", "-noout", "-out", str(out)], log,
                       what="openssl ecparam -genkey")
            out.chmod(0o600)
        run_logged(["openssl", "req", "-x509", "-new", "-key", str(ca_key), "-subj", "/CN=medley-kubelet-client-ca",
                    "-days", "3650", "-out", str(ca)], log, what="openssl req -x509")
        run_logged(["openssl", "req", "-new", "-key", str(key), "-subj",
                    "/O=system:masters/CN=medley-apiserver-kubelet-client", "-out", str(csr)], log, what="openssl req")
        run_logged(["openssl", "x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key),
                    "-CAcreateserial", "-days", "3650", "-out", str(cert)], log, what="openssl x509 -req")

    def _write_files(self) -> None:
        from medley.bootstrap.node import CNI_BIN_DIR, PAUSE_IMAGE

        home = self.home
        wrapper = home / "bin" / "runc"
        wrapper.parent.mkdir(parents=True, exist_ok=True)
        wrapper.write_text(RUNC_WRAPPER.format(real=REAL_RUNC))
        wrapper.chmod(0o755)
        cri = 'plugins."io.containerd.grpc.v1.cri"'
        (home / "containerd").mkdir(exist_ok=True)
        (home / "containerd" / "config.toml").write_text(f'''version = 2
root = "{home / 'containerd' / 'root'}"
state = "{home / 'containerd' / 'state'}"
[grpc]
  address = "{self.socket}"
[ttrpc]
  address = "{self.socket}.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "{home / 'containerd' / 'opt'}"
[{cri}]
  sandbox_image = "docker.io/{PAUSE_IMAGE}"
[{cri}.containerd]
  snapshotter = "overlayfs"
  default_runtime_name = "runc"
[{cri}.containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"
[{cri}.containerd.runtimes.runc.options]
  BinaryName = "{wrapper}"
  Root = "{self.run_dir / 'runc'}"
  SystemdCgroup = false
[{cri}.cni]
  bin_dir = "{CNI_BIN_DIR}"
  conf_dir = "{home / 'cni' / 'net.d'}"
''')
        # No masquerading: pods only talk to each other and to this host.
        (home / "cni" / "net.d" / "10-medley.conflist").write_text(json.dumps({
            "cniVersion": "0.4.0", "name": "medley", "plugins": [{
                "type": "bridge", "bridge": BRIDGE, "isGateway": True, "ipMasq": False, "hairpinMode": True,
                "ipam": {"type": "host-local", "ranges": [[{"subnet": POD_SUBNET}]],
                         "routes": [{"dst": "0.0.0.0/0"}], "dataDir": str(home / "cni" / "ipam")}}]}, indent=2))
        (home / "kubelet.yaml").write_text(yaml.safe_dump({
            "apiVersion": "kubelet.config.k8s.io/v1beta1", "kind": "KubeletConfiguration",
            "address": ADDRESS, "port": KUBELET_PORT, "readOnlyPort": 0,
            "healthzBindAddress": ADDRESS, "healthzPort": KUBELET_HEALTHZ_PORT,
            "containerRuntimeEndpoint": f"unix://{self.socket}",
            "cgroupDriver": "cgroupfs", "failCgroupV1": False, "failSwapOn": False,
            # Only the API server's client certificate, or a token the API server vouches for.
            "authentication": {"anonymous": {"enabled": False}, "webhook": {"enabled": True},
                               "x509": {"clientCAFile": str(self.plane.pki / "kubelet-client-ca.crt")}},
            "authorization": {"mode": "Webhook"},
            "podLogsDir": str(home / "pod-logs"),   # not /var/log/pods
            "clusterDNS": [DNS_SERVICE_IP], "clusterDomain": CLUSTER_DOMAIN, "resolvConf": "",
            # Images come from archives, not a registry: never garbage-collect them, and do not
            # evict pods because other work on this shared disk fills it.
            "imageGCHighThresholdPercent": 100, "imageGCLowThresholdPercent": 99,
            "evictionHard": {"nodefs.available": "1%", "imagefs.available": "1%", "memory.available": "100Mi"},
        }))
        (home / "kube-proxy.yaml").write_text(yaml.safe_dump({
            "apiVersion": "kubeproxy.config.k8s.io/v1alpha1", "kind": "KubeProxyConfiguration",
            "mode": "iptables", "clusterCIDR": CLUSTER_CIDR, "hostnameOverride": NODE_NAME,
            "clientConnection": {"kubeconfig": str(self.plane.kubeconfig)},
            "bindAddress": ADDRESS, "healthzBindAddress": f"{ADDRESS}:{PROXY_HEALTHZ_PORT}",
            "metricsBindAddress": f"{ADDRESS}:{PROXY_METRICS_PORT}",
            "nodePortAddresses": [f"{ADDRESS}/32"],
            # Leave the host's conntrack sysctls and route_localnet alone.
            "conntrack": {"maxPerCore": 0, "min": 0, "tcpEstablishedTimeout": "0s", "tcpCloseWaitTimeout": "0s"},
            "iptables": {"localhostNodePorts": False},
        }))

    def import_images(self) -> list[Path]:
        """Load the node's own image archives and every one in ~/.cache/medley/images (the
        application images) into containerd; an archive already loaded unchanged is skipped."""
        record = self.home / "containerd" / "imported.json"
        imported = json.loads(record.read_text()) if record.exists() else {}
        archives = sorted(self.images_dir.glob("*.tar"))
        if self.app_images:
            archives += sorted((self.cfg.cache_dir / "images").glob("*.tar"))
        loaded = []
        for archive in archives:
            stamp = f"{archive.stat().st_mtime_ns}:{archive.stat().st_size}"
            if imported.get(str(archive)) == stamp:
                continue
            result = self.ctr("images", "import", str(archive), check=False, timeout=1800)
            if result.returncode != 0:
                raise ServiceFailed(f"ctr images import {archive} failed: {result.stderr.strip()[-300:]}",
                                    "rebuild that archive (docker-archive or oci-archive with a tag)")
            for ref in _oci_refs(archive):
                # An OCI archive's ref name is imported verbatim ("medley/spark:1"), but kubelet
                # asks for the normalized name ("docker.io/medley/spark:1").
                if _normalized(ref) != ref:
                    self.ctr("images", "tag", "--force", ref, _normalized(ref))
            imported[str(archive)] = stamp
            record.write_text(json.dumps(imported, indent=1))
            loaded.append(archive)
        return loaded

    def _addons(self, cluster: Cluster) -> None:
        applied = cluster.kubectl("apply", "-f", "-", check=False, input=yaml.safe_dump_all(addons(self.home)))
        if applied.returncode != 0:
            raise ServiceFailed(f"applying CoreDNS and the storage class failed: {applied.stderr.strip()}",
                                f"read {self.log('kubelet')}")
        for namespace, deployment in (("kube-system", "coredns"), ("kube-system", "local-path-provisioner")):
            rollout = cluster.kubectl("-n", namespace, "rollout", "status", f"deployment/{deployment}",
                                      f"--timeout={READY_TIMEOUT_S}s", check=False)
            if rollout.returncode != 0:
                pods = cluster.kubectl("-n", namespace, "describe", "pods", "-l", f"app={deployment}", check=False)
                raise ServiceFailed(f"{deployment} did not become ready: {rollout.stderr.strip()}\n"
                                    f"{pods.stdout[-2000:]}", f"read {self.log('kubelet')}")

    def _launch(self, name: str, args: list[str], healthy: Callable[[], bool]) -> None:
        log = self.log(name)
        argv = [str(self.binary(name)), *args]
        with log.open("a") as out:
            out.write(f"\n$ {' '.join(argv)}\n")
            out.flush()
            proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    start_new_session=True, env={**os.environ, "PATH": HOST_PATH})
        self._children[name] = proc
        self.pidfile(name).write_text(str(proc.pid))
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not healthy():
            if proc.poll() is not None:
                raise ServiceFailed(f"{name} exited with {proc.returncode}; last lines of {log}:\n{tail(log)}",
                                    f"read {log}")
            if time.monotonic() > deadline:
                raise ServiceFailed(f"{name} not healthy after {READY_TIMEOUT_S}s; last lines of {log}:\n{tail(log)}",
                                    f"read {log}")
            time.sleep(0.5)

    def _wait(self, cluster: Cluster, what: str, done: Callable[[], bool]) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not done():
            if time.monotonic() > deadline:
                raise ServiceFailed(f"no {what} after {READY_TIMEOUT_S}s; last lines of {self.log('kubelet')}:\n"
                                    f"{tail(self.log('kubelet'))}", f"read {self.log('kubelet')}")
            time.sleep(1)

    # ---- processes ----------------------------------------------------------------------------
    def running_pid(self, name: str) -> int | None:
        if name in self.plane.components:
            return self.plane.running_pid(name)
        pidfile = self.pidfile(name)
        if not pidfile.exists():
            return None
        pid = int(pidfile.read_text())
        if name in self._children and self._children[name].poll() is not None:
            return None
        try:
            argv0 = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode()
        except OSError:
            return None
        return pid if argv0 == str(self.binary(name)) and not _is_zombie(pid) else None

    def is_up(self) -> bool:
        return any(self.running_pid(n) for n in [*NODE_DAEMONS, *self.plane.components]) or \
            _interface_exists(NODE_INTERFACE)

    def status(self) -> list[tuple]:
        ports = {"kubelet": KUBELET_PORT, "kube-proxy": PROXY_HEALTHZ_PORT, "containerd": self.socket}
        return [(n, self.running_pid(n) or "-", ports[n], self.log(n)) for n in NODE_DAEMONS] + self.plane.status()

    # ---- down ---------------------------------------------------------------------------------
    def stop(self) -> list[str]:
        """Stop everything the node started and remove what it left on the host; returns what ran."""
        stopped = []
        for name in ("kube-proxy", "kubelet"):
            stopped += self._stop_daemon(name)
        if self.running_pid("containerd"):
            self._remove_containers()
        stopped += self._stop_daemon("containerd")
        stopped += self.plane.stop()
        for pid in self._strays():      # shims (and their containers) outlive containerd
            _kill(pid)
        _remove_kubepods_cgroups()
        for ns in _pod_netns():
            subprocess.run(["ip", "netns", "delete", ns], capture_output=True)
        _rmdir(Path("/var/run/netns"))   # containerd's CRI made it; left only if someone else uses it
        for mount in reversed(_mounts_under(self.home)):
            if subprocess.run(["umount", mount], capture_output=True).returncode != 0:
                subprocess.run(["umount", "-l", mount], capture_output=True)
        for interface in (BRIDGE, NODE_INTERFACE):
            if _interface_exists(interface):
                _ip("link", "delete", interface)
        _remove_iptables_chains()
        self._remove_log_links()
        self._restore_sysctls()
        return stopped

    def _stop_daemon(self, name: str) -> list[str]:
        pid = self.running_pid(name)
        if pid is not None:
            _terminate(pid, self._children.get(name))
        self.pidfile(name).unlink(missing_ok=True)
        self._children.pop(name, None)
        return [name] if pid is not None else []

    def _remove_containers(self) -> None:
        tasks = self.ctr("tasks", "ls", "-q", check=False).stdout.split()
        for task in tasks:
            self.ctr("tasks", "kill", "--signal", "SIGKILL", task, check=False)
        for task in tasks:
            self.ctr("tasks", "delete", "--force", task, check=False)
        for container in self.ctr("containers", "ls", "-q", check=False).stdout.split():
            self.ctr("containers", "delete", container, check=False)

    def _strays(self) -> list[int]:
        """Processes still naming this node's home in their command line (containerd shims)."""
        marker = str(self.home).encode()
        strays = []
        for proc in Path("/proc").iterdir():
            if proc.name.isdigit() and int(proc.name) != os.getpid():
                try:
                    if marker in (proc / "cmdline").read_bytes():
                        strays.append(int(proc.name))
                except OSError:
                    pass
        return strays

    def _remove_log_links(self) -> None:
        """kubelet links every container log into /var/log/containers, whatever podLogsDir says."""
        links = Path("/var/log/containers")
        if not links.is_dir():
            return
        for link in links.iterdir():
            if link.is_symlink() and os.readlink(link).startswith(f"{self.home}/"):
                link.unlink()
        if not any(links.iterdir()):
            links.rmdir()

    def _restore_sysctls(self) -> None:
        saved = self.run_dir / "sysctls.json"
        if saved.exists():
            for key, value in json.loads(saved.read_text()).items():
                Path("/proc/sys", key).write_text(value)
            saved.unlink()

    def leftovers(self) -> Leftovers:
        """What of this node is still on the host (the teardown test's checks)."""
        return Leftovers(
            processes=[Path(f"/proc/{p}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                       for p in self._strays() if Path(f"/proc/{p}").exists()] + _kubepods_processes(),
            mounts=_mounts_under(self.home) + [m for m in _all_mounts() if "/netns/cni-" in m],
            netns=_pod_netns(),
            interfaces=[i for i in (BRIDGE, NODE_INTERFACE) if _interface_exists(i)] + _bridge_ports(),
            iptables=[rule for rule in _iptables_rules() if _ours(rule)],
        )


def _oci_refs(archive: Path) -> list[str]:
    import tarfile

    with tarfile.open(archive) as tar:
        try:
            index = json.load(tar.extractfile("index.json"))
        except KeyError:
            return []   # a `docker save` archive: containerd normalizes its RepoTags itself
    return [m["annotations"]["org.opencontainers.image.ref.name"] for m in index.get("manifests", [])
            if "org.opencontainers.image.ref.name" in m.get("annotations", {})]


def _normalized(ref: str) -> str:
    """The reference as Docker (and kubelet) spell it in full: docker.io/[library/]name:tag."""
    first = ref.split("/")[0]
    if "/" in ref and ("." in first or ":" in first or first == "localhost"):
        return ref
    return f"docker.io/{ref}" if "/" in ref else f"docker.io/library/{ref}"


# ---- host helpers -------------------------------------------------------------------------------
def _ip(*args: str) -> None:
    result = subprocess.run(["ip", *args], capture_output=True, text=True)
    if result.returncode != 0:
        raise ServiceFailed(f"ip {' '.join(args)} failed: {result.stderr.strip()}", "run as root on Linux")


def _interface_exists(name: str) -> bool:
    return Path("/sys/class/net", name).exists()


def _bridge_ports() -> list[str]:
    ports = Path("/sys/class/net", BRIDGE, "brif")
    return sorted(p.name for p in ports.iterdir()) if ports.exists() else []


def _http_ok(url: str) -> bool:
    import requests

    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.RequestException:
        return False


def _all_mounts() -> list[str]:
    # /proc/self/mounts escapes spaces as \040; our paths have none.
    return [line.split()[1] for line in Path("/proc/self/mounts").read_text().splitlines()]


def _mounts_under(home: Path) -> list[str]:
    prefix = f"{home}/"
    return [m for m in _all_mounts() if m.startswith(prefix)]


def _pod_netns() -> list[str]:
    """Named network namespaces that hold an address of this node's pod subnet (CNI made them)."""
    netns_dir = Path("/var/run/netns")
    if not netns_dir.exists():
        return []
    subnet = ipaddress.ip_network(POD_SUBNET)
    ours = []
    for ns in sorted(netns_dir.iterdir()):
        out = subprocess.run(["ip", "-n", ns.name, "-4", "-o", "addr", "show"], capture_output=True, text=True).stdout
        if any(ipaddress.ip_address(a) in subnet for a in re.findall(r"inet (\d+\.\d+\.\d+\.\d+)/", out)):
            ours.append(ns.name)
    return ours


def _kubepods_dirs() -> list[Path]:
    return [d for d in Path("/sys/fs/cgroup").glob("*/kubepods") if d.is_dir()]


def _kubepods_processes() -> list[str]:
    pids = set()
    for top in _kubepods_dirs():
        for procs in top.rglob("cgroup.procs"):
            pids.update(procs.read_text().split())
    return sorted(pids)


def _remove_kubepods_cgroups() -> None:
    for pid in _kubepods_processes():
        _kill(int(pid))
    for top in _kubepods_dirs():
        for d in sorted((p for p in top.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
            _rmdir(d)
        _rmdir(top)


def _rmdir(d: Path) -> None:
    try:
        d.rmdir()
    except OSError:
        pass


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    deadline = time.monotonic() + 10
    while Path(f"/proc/{pid}").exists() and not _is_zombie(pid) and time.monotonic() < deadline:
        time.sleep(0.1)


IPTABLES_TABLES = ["filter", "nat", "mangle"]
OUR_CHAIN = re.compile(r"^(KUBE-|CNI-)")


def _ours(rule: str) -> bool:
    return bool(re.search(r"\b(KUBE-|CNI-)|198\.1[89]\.|" + re.escape(BRIDGE), rule))


def _iptables_rules() -> list[str]:
    rules = []
    for tool in ("iptables-save", "ip6tables-save"):
        out = subprocess.run([tool], capture_output=True, text=True).stdout
        rules += [f"{tool}: {line}" for line in out.splitlines() if line.startswith(("-A", ":"))]
    return rules


def _remove_iptables_chains() -> None:
    """Delete the rules that jump to KUBE-/CNI- chains, then flush and delete those chains."""
    for save, restore in (("iptables-save", "iptables-restore"), ("ip6tables-save", "ip6tables-restore")):
        for table in IPTABLES_TABLES:
            lines = subprocess.run([save, "-t", table], capture_output=True, text=True).stdout.splitlines()
            chains = [line[1:].split()[0] for line in lines if line.startswith(":") and OUR_CHAIN.match(line[1:])]
            deletes = [f"-D {line[3:]}" for line in lines if line.startswith("-A ")
                       and not OUR_CHAIN.match(line[3:]) and _ours(line)]
            if not chains and not deletes:
                continue
            script = "\n".join([f"*{table}", *deletes, *(f"-F {c}" for c in chains),
                                *(f"-X {c}" for c in chains), "COMMIT", ""])
            subprocess.run([restore, "--noflush"], input=script, capture_output=True, text=True)


# ---- add-ons ------------------------------------------------------------------------------------
COREFILE = f""".:53 {{
    errors
    health :8080
    ready :8181
    kubernetes {CLUSTER_DOMAIN} in-addr.arpa ip6.arpa {{
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
    }}
    cache 30
    loop
    loadbalance
}}
"""


def _service_account_rbac(name: str, rules: list[dict]) -> list[dict]:
    ref = {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": f"medley:{name}"}
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name, "namespace": "kube-system"}},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": f"medley:{name}"},
         "rules": rules},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
         "metadata": {"name": f"medley:{name}"}, "roleRef": ref,
         "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": "kube-system"}]},
    ]


def _deployment(name: str, container: dict, volumes: list[dict], dns_policy: str = "ClusterFirst") -> dict:
    return {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": "kube-system"},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}},
                              "spec": {"serviceAccountName": name, "priorityClassName": "system-cluster-critical",
                                       "dnsPolicy": dns_policy, "containers": [container], "volumes": volumes}}}}


def addons(home: Path) -> list[dict]:
    """CoreDNS as the cluster DNS and the local-path storage class, from the images built here."""
    from medley.bootstrap.node import BUSYBOX_IMAGE, coredns_image, provisioner_image

    coredns = [
        *_service_account_rbac("coredns", [
            {"apiGroups": [""], "resources": ["endpoints", "services", "pods", "namespaces"], "verbs": ["list", "watch"]},
            {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": ["list", "watch"]}]),
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "coredns", "namespace": "kube-system"},
         "data": {"Corefile": COREFILE}},
        _deployment("coredns", {
            "name": "coredns", "image": coredns_image(), "imagePullPolicy": "Never",
            "args": ["-conf", "/etc/coredns/Corefile"],
            "ports": [{"containerPort": 53, "protocol": "UDP", "name": "dns"},
                      {"containerPort": 53, "protocol": "TCP", "name": "dns-tcp"}],
            "readinessProbe": {"httpGet": {"path": "/ready", "port": 8181}, "periodSeconds": 2},
            "livenessProbe": {"httpGet": {"path": "/health", "port": 8080}},
            "volumeMounts": [{"name": "config", "mountPath": "/etc/coredns", "readOnly": True}]},
            [{"name": "config", "configMap": {"name": "coredns"}}], dns_policy="Default"),
        {"apiVersion": "v1", "kind": "Service",
         "metadata": {"name": "kube-dns", "namespace": "kube-system", "labels": {"k8s-app": "kube-dns"}},
         "spec": {"clusterIP": DNS_SERVICE_IP, "selector": {"app": "coredns"},
                  "ports": [{"name": "dns", "port": 53, "protocol": "UDP"},
                            {"name": "dns-tcp", "port": 53, "protocol": "TCP"}]}},
    ]
    helper_pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "helper-pod"},
                  "spec": {"containers": [{"name": "helper-pod", "image": BUSYBOX_IMAGE, "imagePullPolicy": "Never"}]}}
    provisioner = [
        *_service_account_rbac("local-path-provisioner", [
            {"apiGroups": [""], "resources": ["nodes", "persistentvolumeclaims", "configmaps", "pods/log"],
             "verbs": ["get", "list", "watch"]},
            {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch", "create", "delete", "patch"]},
            {"apiGroups": [""], "resources": ["persistentvolumeclaims"], "verbs": ["update", "patch"]},
            {"apiGroups": [""], "resources": ["persistentvolumes"],
             "verbs": ["get", "list", "watch", "create", "patch", "update", "delete"]},
            {"apiGroups": [""], "resources": ["events"], "verbs": ["create", "patch"]},
            {"apiGroups": ["storage.k8s.io"], "resources": ["storageclasses"], "verbs": ["get", "list", "watch"]},
            {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"],
             "verbs": ["get", "list", "watch", "create", "update", "patch"]},
            {"apiGroups": [""], "resources": ["endpoints"], "verbs": ["get", "list", "watch", "create", "update", "patch"]}]),
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "local-path-config", "namespace": "kube-system"},
         "data": {
             "config.json": json.dumps({"nodePathMap": [{"node": "DEFAULT_PATH_FOR_NON_LISTED_NODES",
                                                         "paths": [str(home / "storage")]}]}),
             "setup": '#!/bin/sh\nset -eu\nmkdir -m 0777 -p "$VOL_DIR"\n',
             "teardown": '#!/bin/sh\nset -eu\nrm -rf "$VOL_DIR"\n',
             "helperPod.yaml": yaml.safe_dump(helper_pod)}},
        _deployment("local-path-provisioner", {
            "name": "local-path-provisioner", "image": provisioner_image(), "imagePullPolicy": "Never",
            "command": ["local-path-provisioner", "start", "--config", "/etc/config/config.json",
                        "--namespace", "kube-system", "--service-account-name", "local-path-provisioner",
                        "--helper-image", BUSYBOX_IMAGE, "--helper-pod-file", "/etc/config/helperPod.yaml",
                        "--configmap-name", "local-path-config"],
            "env": [{"name": "POD_NAMESPACE", "value": "kube-system"}],
            "volumeMounts": [{"name": "config", "mountPath": "/etc/config", "readOnly": True}]},
            [{"name": "config", "configMap": {"name": "local-path-config"}}]),
        {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
         "metadata": {"name": STORAGE_CLASS, "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
         "provisioner": "rancher.io/local-path", "volumeBindingMode": "WaitForFirstConsumer",
         "reclaimPolicy": "Delete"},
    ]
    return [*coredns, *provisioner]
