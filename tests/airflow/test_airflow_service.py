"""Airflow as a real local service on the live test instance: the REST API answers with a token got
with the generated admin password, the scheduler, dag-processor and triggerer are healthy, nothing
listens beyond loopback (PostgreSQL on 127.0.0.1 only), and `down` leaves no Airflow or PostgreSQL
process while `up` again finds the metadata. The last test restarts these two services only."""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path

import pytest
import requests

from medley import services
from medley.bootstrap import airflow as airflow_build
from medley.services import airflow

pytestmark = pytest.mark.services

MINE = ["postgres", "airflow"]


def _token(cfg, password: str) -> requests.Response:
    user, _ = airflow.admin(cfg)
    return requests.post(f"{airflow.url(cfg)}/auth/token", json={"username": user, "password": password},
                         timeout=30)


def _api(cfg, method: str, path: str, **kw) -> requests.Response:
    token = _token(cfg, airflow.admin(cfg)[1]).json()["access_token"]
    return requests.request(method, f"{airflow.url(cfg)}/api/v2{path}",
                            headers={"Authorization": f"Bearer {token}"}, timeout=30, **kw)


def test_rest_api_answers_with_a_token_from_the_generated_admin_password(live_cfg):
    user, password = airflow.admin(live_cfg)
    assert user == "admin" and password == live_cfg.secret("airflow_admin_password")
    login = _token(live_cfg, password)
    assert login.status_code == 201, login.text
    version = requests.get(f"{airflow.url(live_cfg)}/api/v2/version", timeout=30,
                           headers={"Authorization": f"Bearer {login.json()['access_token']}"})
    assert version.status_code == 200
    pinned = re.search(r"^apache-airflow==(\S+)", airflow_build.LOCK.read_text(), re.M).group(1)
    assert version.json()["version"] == pinned
    assert _api(live_cfg, "GET", "/dags").status_code == 200

    assert _token(live_cfg, password + "-wrong").status_code == 401
    assert requests.get(f"{airflow.url(live_cfg)}/api/v2/dags", timeout=30).status_code == 401


def test_scheduler_dag_processor_and_triggerer_are_healthy(live_cfg):
    health = requests.get(f"{airflow.url(live_cfg)}/api/v2/monitor/health", timeout=30).json()
    assert {part: health[part]["status"] for part in ("metadatabase", "scheduler", "dag_processor", "triggerer")} \
        == dict.fromkeys(("metadatabase", "scheduler", "dag_processor", "triggerer"), "healthy")
    # each one's own check too (the scheduler's is served by the scheduler process itself)
    for svc in services.all_services(live_cfg, MINE):
        assert services.running_pid(live_cfg, svc), f"{svc.name} is not running"
        assert svc.health(), f"{svc.name} is not healthy"


def _children() -> dict[int, list[int]]:
    out: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            out.setdefault(int(stat.read_text().rsplit(")", 1)[1].split()[1]), []).append(int(stat.parent.name))
        except OSError:
            continue
    return out


def _tree(pid: int) -> set[int]:
    children, found, todo = _children(), set(), [pid]
    while todo:
        p = todo.pop()
        found.add(p)
        todo += children.get(p, [])
    return found


def _alive(pid: int) -> bool:
    """A zombie (killed, not yet reaped by its parent) counts as gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _listening() -> dict[str, tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, int]]:
    """Every listening TCP socket of this network namespace: socket inode -> (address, port)."""
    found = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] != "0A":   # LISTEN
                continue
            hex_addr, hex_port = fields[1].split(":")
            # the kernel prints each 32-bit word of the address in host (little-endian) order
            raw = b"".join(bytes.fromhex(hex_addr[i:i + 8])[::-1] for i in range(0, len(hex_addr), 8))
            found[fields[9]] = (ipaddress.ip_address(raw), int(hex_port, 16))
    return found


def _sockets_of(pids: set[int]) -> set[tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, int]]:
    listening, found = _listening(), set()
    for pid in pids:
        try:
            links = [p.readlink().name for p in Path(f"/proc/{pid}/fd").iterdir()]
        except OSError:
            continue
        found |= {listening[m.group(1)] for link in links
                  if (m := re.fullmatch(r"socket:\[(\d+)\]", link)) and m.group(1) in listening}
    return found


def test_postgres_and_airflow_listen_on_loopback_only(live_cfg):
    by_service = {svc.name: _sockets_of(_tree(services.running_pid(live_cfg, svc)))
                  for svc in services.all_services(live_cfg, MINE)}
    assert by_service["postgres"] == {(ipaddress.ip_address("127.0.0.1"), live_cfg.port("postgres"))}
    assert (ipaddress.ip_address("127.0.0.1"), live_cfg.port("airflow")) in by_service["airflow-api-server"]
    # no log server or other side port on every interface (Airflow's defaults would open two)
    beyond = {name: sorted(map(str, socks)) for name, socks in by_service.items()
              if any(not (getattr(addr, "ipv4_mapped", None) or addr).is_loopback for addr, _ in socks)}
    assert not beyond, f"listening beyond loopback: {beyond}"


def test_down_leaves_no_airflow_or_postgres_process_and_up_finds_the_metadata(live_cfg):
    key = "medley_test_down_keeps_metadata"
    _api(live_cfg, "DELETE", f"/variables/{key}")
    assert _api(live_cfg, "POST", "/variables", json={"key": key, "value": "kept"}).status_code == 201
    mine = services.all_services(live_cfg, MINE)
    trees = {svc.name: _tree(services.running_pid(live_cfg, svc)) for svc in mine}

    services.down(live_cfg, MINE)
    try:
        left = {name: sorted(p for p in pids if _alive(p)) for name, pids in trees.items()}
        assert not any(left.values()), f"processes left after down: {left}"
        assert not [svc.name for svc in mine if svc.port and services.port_open(svc.port)]
    finally:
        services.up(live_cfg, MINE)   # the rest of the session may use them

    assert _api(live_cfg, "GET", f"/variables/{key}").json()["value"] == "kept"
    _api(live_cfg, "DELETE", f"/variables/{key}")
