"""Security basics of the local stack, on the live test instance: every service listens on the
loopback interface only (and so does the local Spark driver), the generated secrets file is private (0600), and no generated
credential is written to a service log."""

from __future__ import annotations

import ipaddress
import os
import socket
import stat
from pathlib import Path

import pytest

from medley import services

pytestmark = pytest.mark.services
LISTEN = "0A"     # TCP_LISTEN in /proc/net/tcp{,6}


def session_pids(leaders: set[int]) -> set[int]:
    """Every process of the services' sessions: `medley up` starts each service as a session
    leader, and its workers (Druid's JVMs, gunicorn's, PostgreSQL's) stay in that session."""
    pids = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):     # ended meanwhile
            continue
        if int(fields[3]) in leaders:          # field 6 of stat: the session id
            pids.add(int(entry.name))
    return pids


def socket_inodes(pids: set[int]) -> set[str]:
    inodes = set()
    for pid in pids:
        try:
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    inodes.add(target[len("socket:["):-1])
        except (FileNotFoundError, ProcessLookupError):
            continue
    return inodes


def _address(hex_address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    raw = bytes.fromhex(hex_address)
    if len(raw) == 4:                      # one little-endian 32-bit word
        return ipaddress.IPv4Address(raw[::-1])
    words = b"".join(raw[i:i + 4][::-1] for i in range(0, 16, 4))   # four of them
    return ipaddress.IPv6Address(words)


def listening(inodes: set[str]) -> list[tuple[str, int]]:
    """(address, port) of every listening TCP socket among `inodes`."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == LISTEN and inode in inodes:
                address, port = local.split(":")
                found.append((str(_address(address)), int(port, 16)))
    return found


def is_loopback(address: str) -> bool:
    """127.0.0.1 (also as a Java dual-stack socket shows it, ::ffff:127.0.0.1) or ::1."""
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_loopback


def test_proc_addresses_are_read_as_written():
    """The parser of /proc/net/tcp{,6} itself (so the test below cannot pass by misreading)."""
    assert _address("0100007F") == ipaddress.IPv4Address("127.0.0.1")
    assert _address("00000000") == ipaddress.IPv4Address("0.0.0.0")
    assert _address("0000000000000000FFFF00000100007F") == ipaddress.IPv6Address("::ffff:127.0.0.1")
    assert _address("00000000000000000000000001000000") == ipaddress.IPv6Address("::1")
    assert not is_loopback("0.0.0.0") and not is_loopback("::") and not is_loopback("::ffff:192.0.2.2")
    assert is_loopback("::ffff:127.0.0.1") and is_loopback("::1") and is_loopback("127.0.0.1")
    with socket.socket() as open_to_all:        # a real socket on every address is seen as such
        open_to_all.bind(("0.0.0.0", 0))
        open_to_all.listen()
        port = open_to_all.getsockname()[1]
        assert ("0.0.0.0", port) in listening(socket_inodes({os.getpid()}))


def test_every_service_listens_on_loopback_only(live_cfg):
    running = {svc.name: services.running_pid(live_cfg, svc) for svc in services.all_services(live_cfg)}
    assert all(running.values()), f"not running: {[n for n, pid in running.items() if not pid]}"
    sockets = listening(socket_inodes(session_pids(set(running.values()))))
    ports = {port for _, port in sockets}
    assert {svc.port for svc in services.all_services(live_cfg) if svc.port} <= ports   # we saw every service
    exposed = [(address, port) for address, port in sockets if not is_loopback(address)]
    assert not exposed, f"listening beyond 127.0.0.1: {exposed}"


def generated_secrets(store: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in store.read_text().splitlines() if "=" in line)


def test_secrets_are_private_and_never_logged(live_cfg):
    store = live_cfg.state_dir / "secrets.env"
    assert stat.S_IMODE(store.stat().st_mode) == 0o600
    secrets = generated_secrets(store)
    assert {"s3_secret_key", "superset_admin_password", "postgres_password"} <= set(secrets)
    logs = [p for p in live_cfg.state_dir.rglob("*")
            if p.is_file() and (p.suffix == ".log" or "logs" in p.relative_to(live_cfg.state_dir).parts)]
    assert any(p.name == "minio.log" for p in logs) and any(p.name == "superset.log" for p in logs)
    leaked = [(str(p), name) for p in logs for name, value in secrets.items() if value.encode() in p.read_bytes()]
    assert not leaked, f"generated credentials in logs: {leaked}"


def test_the_local_spark_driver_listens_on_loopback_only(spark):
    jvm = spark.sparkContext._gateway.proc.pid     # the session's own JVM (py4j's launcher process)
    sockets = listening(socket_inodes({jvm}))
    assert sockets, "the driver JVM listens on nothing?"
    exposed = [(address, port) for address, port in sockets if not is_loopback(address)]
    assert not exposed, f"the Spark driver listens beyond 127.0.0.1: {exposed}"
