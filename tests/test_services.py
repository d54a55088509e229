"""`medley down` stops every process `medley up` started (their children too) and keeps the data;
`up` again finds it. Runs on the live test instance and leaves it up for the other tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from medley import services, storage

pytestmark = pytest.mark.services


def _children() -> dict[int, list[int]]:
    out: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out.setdefault(int(fields[1]), []).append(int(stat.parent.name))
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
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _unreaped_child(pid: int) -> bool:
    """True when pid is a child of this process that nobody waited for (waiting reaps it now)."""
    try:
        return os.waitpid(pid, os.WNOHANG)[0] == pid
    except ChildProcessError:   # not our child, or already reaped
        return False


def test_down_leaves_no_process_and_up_finds_the_data(live_cfg):
    key = "tests/down-keeps-data.txt"
    storage.put_bytes(live_cfg, key, b"still here")
    started, leaders = {}, {}
    for svc in services.all_services(live_cfg):
        pid = services.running_pid(live_cfg, svc)
        assert pid, f"{svc.name} of the live instance is not running"
        started[svc.name] = _tree(pid)
        leaders[svc.name] = pid

    services.down(live_cfg)

    left = {name: sorted(p for p in pids if _alive(p)) for name, pids in started.items()}
    assert not any(left.values()), f"processes left after down: {left}"
    assert not [name for name, pid in leaders.items() if _unreaped_child(pid)], \
        "down left a service it started from this process as a zombie (it waits out the grace period)"
    assert not [svc.name for svc in services.all_services(live_cfg) if services.port_open(svc.port)]

    services.up(live_cfg)
    assert key in storage.list_keys(live_cfg, "tests/")
    assert all(services.running_pid(live_cfg, svc) for svc in services.all_services(live_cfg))
