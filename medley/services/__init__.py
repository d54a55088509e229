"""`medley up | down | status | logs`: local services started as processes we own by pid.

Each service module exposes services(cfg) -> list[Service]. `up` checks the port is free,
starts the process in its own session, records its pid and waits for its health check;
`down` stops exactly the pids `up` recorded. Data lives under paths.data_dir and survives.
"""

from __future__ import annotations

import importlib
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import requests

from medley.config import Config
from medley.console import say, table
from medley.errors import PortInUse, ServiceFailed
from medley.proc import alive
from medley.proc import tail

MODULES = ["minio", "zookeeper", "druid", "superset", "postgres", "airflow"]


@dataclass
class Service:
    name: str
    argv: list[str]
    port: int
    health: Callable[[], bool]
    env: dict = field(default_factory=dict)
    cwd: Path | None = None
    timeout_s: int = 120
    url: str = ""          # shown to people by `status`
    prepare: Callable[[], None] | None = None   # one-off set-up before the first start
    # other ports it listens on, by medley.yaml key (Derby's, the Druid task range's first and last)
    other_ports: dict[str, int] = field(default_factory=dict)


def http_ok(url: str, **kw) -> Callable[[], bool]:
    def check() -> bool:
        try:
            return requests.get(url, timeout=2, **kw).status_code < 400
        except requests.RequestException:
            return False
    return check


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def _modules(only: list[str] | None) -> list[str]:
    """Service modules matching `only` (module names like druid, or service names like druid-broker)."""
    return [mod for mod in MODULES
            if not only or any(name == mod or name.startswith(f"{mod}-") for name in only)]


def all_services(cfg: Config, only: list[str] | None = None) -> list[Service]:
    found = []
    for mod in _modules(only):
        for svc in importlib.import_module(f"medley.services.{mod}").services(cfg):
            if not only or svc.name in only or mod in only:
                found.append(svc)
    return found


def _pidfile(cfg: Config, svc: Service) -> Path:
    return cfg.state_dir / "run" / f"{svc.name}.pid"


def log_file(cfg: Config, name: str) -> Path:
    return cfg.state_dir / "logs" / f"{name}.log"


def running_pid(cfg: Config, svc: Service) -> int | None:
    pidfile = _pidfile(cfg, svc)
    if not pidfile.exists():
        return None
    pid = int(pidfile.read_text())
    if not alive(pid):
        pidfile.unlink()
        return None
    return pid


EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")


def check_ports(services: list[Service], ephemeral_range: Path = EPHEMERAL_RANGE) -> None:
    """Refuse a port in Linux's ephemeral range (32768-60999 by default): an outgoing connection of
    any process can hold it when the service starts, so the service fails some of the time (a Druid
    peon could not bind a task port at 43100)."""
    low, high = map(int, ephemeral_range.read_text().split())
    clashes = [f"{svc.name} {key} {port}" for svc in services
               for key, port in {"port": svc.port, **svc.other_ports}.items() if low <= port <= high]
    if clashes:
        raise PortInUse(f"{', '.join(clashes)}: inside the ephemeral port range {low}-{high} "
                        f"({ephemeral_range}), where outgoing connections take ports",
                        f"set the services.* ports in medley.yaml below {low} or above {high}")


def start(cfg: Config, svc: Service) -> str:
    if running_pid(cfg, svc):
        if svc.health():
            return "already up"
    elif port_open(svc.port):
        raise PortInUse(f"{svc.name}: port {svc.port} is already in use by a process Medley did not start",
                        f"stop that process or set the {svc.name} port in medley.yaml (services.*)")
    if svc.prepare:
        svc.prepare()
    log = log_file(cfg, svc.name)
    log.parent.mkdir(parents=True, exist_ok=True)
    _pidfile(cfg, svc).parent.mkdir(parents=True, exist_ok=True)
    with log.open("a") as out:
        out.write(f"\n=== medley up {time.strftime('%Y-%m-%dT%H:%M:%S')}: {' '.join(svc.argv)}\n")
        out.flush()
        proc = subprocess.Popen(svc.argv, cwd=svc.cwd, env={**os.environ, **svc.env}, stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
    _pidfile(cfg, svc).write_text(str(proc.pid))
    deadline = time.monotonic() + svc.timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            _pidfile(cfg, svc).unlink(missing_ok=True)
            raise ServiceFailed(
                f"{svc.name} exited with code {proc.returncode} while starting (port {svc.port}); "
                f"last lines of {log}:\n{tail(log)}", f"read {log}")
        if svc.health():
            return "started"
        time.sleep(1)
    stop(cfg, svc)
    raise ServiceFailed(f"{svc.name} did not become healthy on port {svc.port} within {svc.timeout_s}s; "
                        f"last lines of {log}:\n{tail(log)}", f"read {log}")


def stop(cfg: Config, svc: Service, grace_s: float = 20) -> str:
    pid = running_pid(cfg, svc)
    if pid is None:
        return "not running"
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        try:
            # when this process started it (`medley demo`, the tests), reap it: a zombie leader
            # keeps its process group alive and down would wait out the grace period
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        try:
            os.killpg(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.3)
    else:
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    _pidfile(cfg, svc).unlink(missing_ok=True)
    return "stopped"


def up(cfg: Config, only: list[str] | None = None, quiet: bool = False) -> None:
    from medley.bootstrap import COMPONENTS, ensure

    services = all_services(cfg, only)
    check_ports(services)
    for mod in _modules(only):   # cached: seconds when nothing changed
        for name in COMPONENTS:   # a module's components: druid, and druid-console for its router
            if name == mod or name.startswith(f"{mod}-"):
                ensure(cfg, name)
    rows = []
    for svc in services:
        t0 = time.monotonic()
        if not quiet:
            say(f"-> starting {svc.name} on port {svc.port} ...")
        state = start(cfg, svc)
        rows.append((svc.name, state, svc.port, f"{time.monotonic() - t0:.1f}s", svc.url))
    if not quiet:
        say(table(["service", "state", "port", "took", "url"], rows))


def down(cfg: Config, only: list[str] | None = None) -> None:
    rows = [(svc.name, stop(cfg, svc)) for svc in reversed(all_services(cfg, only))]
    say(table(["service", "state"], rows))


def status(cfg: Config) -> bool:
    rows, healthy = [], True
    for svc in all_services(cfg):
        pid = running_pid(cfg, svc)
        ok = pid is not None and svc.health()
        healthy &= ok
        rows.append((svc.name, "up" if ok else ("unhealthy" if pid else "down"), pid or "-",
                     svc.port, log_file(cfg, svc.name)))
    say(table(["service", "state", "pid", "port", "log"], rows))
    return healthy
