"""A local Kubernetes control plane: etcd + kube-apiserver + kube-controller-manager as processes.

The same set-up as controller-runtime's envtest: the API server makes its own self-signed
certificate (--cert-dir), an admin user authenticates with a random bearer token, the
service-account signing key is generated here, and every listener is bound to 127.0.0.1.
The controller-manager is included because without it namespaces never get their `default`
ServiceAccount and deleted objects are never garbage-collected. There is no kubelet and no
scheduler: pods are accepted and stay Pending.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import requests
import yaml

from medley.config import Config
from medley.errors import PortInUse, ServiceFailed
from medley.proc import require, run_logged, tail

# Start order; stop runs in reverse. A real node (medley/k8s/node.py) also needs the scheduler.
COMPONENTS = ["etcd", "kube-apiserver", "kube-controller-manager"]
NODE_COMPONENTS = [*COMPONENTS, "kube-scheduler"]
DEFAULT_PORTS = {"etcd": 2379, "etcd_peer": 2380, "apiserver": 6443, "controller_manager": 10257,
                 "scheduler": 10259}
START_TIMEOUT_S = 180
STOP_TIMEOUT_S = 30
SERVICE_CIDR = "10.0.0.0/24"

@dataclass(frozen=True)
class Ports:
    etcd: int
    etcd_peer: int
    apiserver: int
    controller_manager: int
    scheduler: int

    @classmethod
    def from_config(cls, cfg: Config, **overrides: int | None) -> "Ports":
        # Optional `k8s.ports.<name>` in medley.yaml; flags win.
        ports = {name: int(overrides.get(name) or cfg.get(f"k8s.ports.{name}", default))
                 for name, default in DEFAULT_PORTS.items()}
        return cls(**ports)

    @classmethod
    def free(cls) -> "Ports":
        """Ports the kernel says are free now, for a private (test) control plane."""
        socks = [socket.socket() for _ in DEFAULT_PORTS]
        try:
            for s in socks:
                s.bind(("127.0.0.1", 0))
            return cls(*(s.getsockname()[1] for s in socks))
        finally:
            for s in socks:
                s.close()


@dataclass(frozen=True)
class Cluster:
    """What a client needs: the kubeconfig, and the directory holding kubectl (and the servers)."""

    kubeconfig: Path
    server: str
    ca: Path      # the API server's self-signed CA, for verifying TLS
    token: str
    bin_dir: Path

    def env(self, base: dict | None = None) -> dict:
        env = dict(os.environ if base is None else base)
        env["KUBECONFIG"] = str(self.kubeconfig)
        env["PATH"] = f"{self.bin_dir}{os.pathsep}{env.get('PATH', '')}"
        return env

    def kubectl(self, *args: str, check: bool = True, input: str | None = None) -> subprocess.CompletedProcess:
        return subprocess.run([str(self.bin_dir / "kubectl"), *args], env=self.env(), input=input,
                              capture_output=True, text=True, check=check)


class ControlPlane:
    """One control plane rooted at `home` (keys, certs, kubeconfig, pid files).

    Without a node it listens on 127.0.0.1 and has no scheduler. For a node, every listener is
    on `address` (which pods reach through the `kubernetes` Service), the scheduler runs, and
    the API server publishes its own endpoint.
    """

    def __init__(self, bin_dir: Path, home: Path, etcd_dir: Path, log_dir: Path, ports: Ports,
                 address: str = "127.0.0.1", service_cidr: str = SERVICE_CIDR, for_node: bool = False):
        self.bin_dir, self.home, self.etcd_dir, self.log_dir, self.ports = bin_dir, home, etcd_dir, log_dir, ports
        self.address, self.service_cidr, self.for_node = address, service_cidr, for_node
        self.components = NODE_COMPONENTS if for_node else COMPONENTS
        self.pki = home / "pki"
        self.kubeconfig = home / "kubeconfig"
        self.ca = self.pki / "ca.crt"
        self.server = f"https://{address}:{ports.apiserver}"
        self._children: dict[str, subprocess.Popen] = {}

    @classmethod
    def for_config(cls, cfg: Config, bin_dir: Path, ports: Ports) -> "ControlPlane":
        return cls(bin_dir, cfg.state_dir / "k8s", cfg.data_dir / "k8s" / "etcd",
                   cfg.state_dir / "logs", ports)

    # ---- layout -------------------------------------------------------------------------------
    def pidfile(self, name: str) -> Path:
        return self.home / "run" / f"{name}.pid"

    def log(self, name: str) -> Path:
        return self.log_dir / f"k8s-{name}.log"

    def port_of(self, name: str) -> int:
        return {"etcd": self.ports.etcd, "kube-apiserver": self.ports.apiserver,
                "kube-controller-manager": self.ports.controller_manager,
                "kube-scheduler": self.ports.scheduler}[name]

    def _argv(self, name: str) -> list[str]:
        p, binary, address = self.ports, str(self.bin_dir / name), self.address
        if name == "etcd":
            peer = f"http://{address}:{p.etcd_peer}"
            client = f"http://{address}:{p.etcd}"
            return [binary, "--name=medley", f"--data-dir={self.etcd_dir}",
                    f"--listen-client-urls={client}", f"--advertise-client-urls={client}",
                    f"--listen-peer-urls={peer}", f"--initial-advertise-peer-urls={peer}",
                    f"--initial-cluster=medley={peer}", "--log-level=warn",
                    # Throwaway test state: fsync only slows every write down.
                    "--unsafe-no-fsync"]
        sa_key = self.home / "sa.key"
        if name == "kube-apiserver":
            return [binary, f"--etcd-servers=http://{address}:{p.etcd}",
                    f"--bind-address={address}", f"--advertise-address={address}",
                    f"--secure-port={p.apiserver}", f"--cert-dir={self.pki}",
                    f"--service-cluster-ip-range={self.service_cidr}",
                    "--service-account-issuer=https://kubernetes.default.svc",
                    f"--service-account-key-file={sa_key}", f"--service-account-signing-key-file={sa_key}",
                    "--authorization-mode=RBAC", f"--token-auth-file={self.home / 'tokens.csv'}",
                    "--allow-privileged=true",
                    # Without a kubelet nothing could serve the `kubernetes` Service's endpoints.
                    f"--endpoint-reconciler-type={'lease' if self.for_node else 'none'}",
                    *(self._kubelet_client_args() if self.for_node else [])]
        if name == "kube-scheduler":
            return [binary, f"--kubeconfig={self.kubeconfig}", f"--bind-address={address}",
                    f"--secure-port={p.scheduler}", f"--cert-dir={self.pki / 'scheduler'}", "--leader-elect=false"]
        return [binary, f"--kubeconfig={self.kubeconfig}", f"--bind-address={address}",
                f"--secure-port={p.controller_manager}", f"--cert-dir={self.pki / 'controller-manager'}",
                "--leader-elect=false", f"--service-account-private-key-file={sa_key}",
                f"--root-ca-file={self.ca}"]

    def _kubelet_client_args(self) -> list[str]:
        # `kubectl logs/exec` go through the kubelet, which only trusts this certificate (made by
        # medley/k8s/node.py), and reach it by the node's address: its name is in no DNS.
        return [f"--kubelet-client-certificate={self.pki / 'kubelet-client.crt'}",
                f"--kubelet-client-key={self.pki / 'kubelet-client.key'}",
                "--kubelet-preferred-address-types=InternalIP"]

    def _healthy(self, name: str, token: str) -> Callable[[], bool]:
        if name == "etcd":
            url, kw = f"http://{self.address}:{self.ports.etcd}/health", {}
        elif name == "kube-apiserver":
            url, kw = f"{self.server}/readyz", {"verify": False, "headers": {"Authorization": f"Bearer {token}"}}
        else:
            url, kw = f"https://{self.address}:{self.port_of(name)}/healthz", {"verify": False}

        def check() -> bool:
            # Health probes only: the servers' certificates are being generated as we poll.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    return requests.get(url, timeout=2, **kw).status_code == 200
                except requests.RequestException:
                    return False
        return check

    # ---- processes ----------------------------------------------------------------------------
    def running_pid(self, name: str) -> int | None:
        """The recorded pid, if that process is alive and still runs our binary (pids get reused)."""
        pidfile = self.pidfile(name)
        if not pidfile.exists():
            return None
        pid = int(pidfile.read_text())
        if name in self._children and self._children[name].poll() is not None:
            return None  # our child exited (and is now reaped)
        try:
            argv0 = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode()
        except OSError:
            return None
        return pid if argv0 == str(self.bin_dir / name) else None

    def _prepare(self) -> str:
        for d in (self.home / "run", self.pki, self.etcd_dir.parent, self.log_dir):
            d.mkdir(parents=True, exist_ok=True)
        os.chmod(self.home, 0o700)
        sa_key = self.home / "sa.key"
        if not sa_key.exists():  # kept across restarts so issued service-account tokens stay valid
            run_logged([require("openssl"), "ecparam", "-genkey", "-name", "prime256v1", "-noout",
                        "-out", str(sa_key)], self.log("keys"), what="openssl ecparam -genkey")
            sa_key.chmod(0o600)
        token = secrets.token_urlsafe(32)
        tokens = self.home / "tokens.csv"
        tokens.touch(0o600)
        tokens.write_text(f"{token},medley-admin,medley-admin,system:masters\n")
        return token

    def _write_kubeconfig(self, token: str) -> None:
        # --cert-dir writes the serving certificate followed by the CA that signed it; clients
        # and the controller-manager's trust-bundle publisher need the CA alone.
        chain = (self.pki / "apiserver.crt").read_text()
        end = "-----END CERTIFICATE-----"
        self.ca.write_text(chain[chain.rindex("-----BEGIN CERTIFICATE-----", 0, chain.rindex(end)):])
        config = {
            "apiVersion": "v1", "kind": "Config", "current-context": "medley",
            "clusters": [{"name": "medley", "cluster": {
                "server": self.server, "certificate-authority": str(self.ca)}}],
            "users": [{"name": "medley-admin", "user": {"token": token}}],
            "contexts": [{"name": "medley", "context": {"cluster": "medley", "user": "medley-admin"}}],
        }
        self.kubeconfig.touch(0o600)
        self.kubeconfig.write_text(yaml.safe_dump(config, sort_keys=False))

    def start(self) -> Cluster:
        running = [n for n in self.components if self.running_pid(n)]
        if running:
            raise ServiceFailed(f"the control plane in {self.home} is already running ({', '.join(running)})",
                                "run `medley k8s down` first, or use it as it is")
        for name in self.components:
            port = self.port_of(name)
            if _port_open(self.address, port):
                raise PortInUse(f"port {port} for {name} is already in use",
                                "stop what uses it or pick other ports (see `medley k8s up --help`)")
        token = self._prepare()
        try:
            for name in self.components:
                if name == "kube-controller-manager":
                    self._write_kubeconfig(token)  # needs the certificate the API server wrote
                self._launch(name, token)
        except BaseException:
            self.stop()
            raise
        return Cluster(self.kubeconfig, self.server, self.ca, token, self.bin_dir)

    def _launch(self, name: str, token: str) -> None:
        log = self.log(name)
        with log.open("a") as out:
            out.write(f"\n$ {' '.join(self._argv(name))}\n")
            out.flush()
            proc = subprocess.Popen(self._argv(name), stdout=out, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True)
        self._children[name] = proc
        self.pidfile(name).write_text(str(proc.pid))
        healthy = self._healthy(name, token)
        deadline = time.monotonic() + START_TIMEOUT_S
        while not healthy():
            if proc.poll() is not None:
                raise ServiceFailed(f"{name} exited with {proc.returncode}; last lines of {log}:\n{tail(log)}",
                                    f"read {log}")
            if time.monotonic() > deadline:
                raise ServiceFailed(f"{name} not healthy after {START_TIMEOUT_S}s; last lines of {log}:\n"
                                    f"{tail(log)}", f"read {log}")
            time.sleep(0.5)

    def stop(self) -> list[str]:
        """Stop the processes recorded in the pid files, newest first; returns what was stopped."""
        stopped = []
        for name in reversed(self.components):
            pid = self.running_pid(name)
            if pid is not None:
                _terminate(pid, self._children.get(name))
                stopped.append(name)
            self.pidfile(name).unlink(missing_ok=True)
        self._children.clear()
        return stopped

    def running_components(self) -> list[str]:
        return [name for name in self.components if self.running_pid(name)]

    def status(self) -> list[tuple]:
        return [(name, self.running_pid(name) or "-", self.port_of(name), self.log(name))
                for name in self.components]


def _port_open(address: str, port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((address, port)) == 0


def _terminate(pid: int, child: subprocess.Popen | None) -> None:
    """SIGTERM the process group we started, then SIGKILL if it does not exit in time."""
    def gone() -> bool:
        if child is not None:
            return child.poll() is not None
        return not Path(f"/proc/{pid}").exists() or _is_zombie(pid)

    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while not gone():
        if time.monotonic() > deadline:
            os.killpg(pid, signal.SIGKILL)
            if child is not None:
                child.wait()
            return
        time.sleep(0.2)


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


@contextmanager
def running(cfg: Config, home: Path) -> Iterator[Cluster]:
    """A private control plane under `home` on free ports, stopped on exit: for tests."""
    from medley.bootstrap import ensure

    bins = ensure(cfg, "controlplane")
    plane = ControlPlane(bins, home, home / "etcd", home / "logs", Ports.free())
    cluster = plane.start()
    try:
        yield cluster
    finally:
        plane.stop()
