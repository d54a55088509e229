"""`medley up` refuses a port it cannot rely on, in one line naming the fix, before it builds or
starts anything: a port another process holds, or one inside Linux's ephemeral port range (an
outgoing connection of any process can take it first: a Druid peon once failed to bind 43100)."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest

from instance import instance_env
from medley import REPO_ROOT, config, services
from medley.errors import ExitCode, PortInUse


def test_a_druid_task_port_in_the_ephemeral_range_is_refused_by_name(tmp_path):
    ephemeral = tmp_path / "ip_local_port_range"
    ephemeral.write_text("32768\t60999\n")
    cfg = config.load({**instance_env(), "MEDLEY_SERVICES__DRUID__TASK_PORT_START": "43100"})
    with pytest.raises(PortInUse) as refused:
        services.check_ports(services.all_services(cfg, ["druid"]), ephemeral)
    assert "druid-middlemanager task_port_start 43100, druid-middlemanager task_port_end 43199" in str(refused.value)
    assert "32768-60999" in refused.value.message and "below 32768" in refused.value.fix


def test_a_range_ending_inside_the_ephemeral_range_is_refused(tmp_path):
    ephemeral = tmp_path / "ip_local_port_range"
    ephemeral.write_text("32768 60999\n")
    cfg = config.load({**instance_env(), "MEDLEY_SERVICES__DRUID__TASK_PORT_START": "32700"})
    with pytest.raises(PortInUse, match="task_port_end 32799"):
        services.check_ports(services.all_services(cfg, ["druid"]), ephemeral)


@pytest.mark.parametrize("env", [{}, instance_env()], ids=["medley.yaml", "test instance"])
def test_the_shipped_ports_are_outside_this_machines_ephemeral_range(env):
    services.check_ports(services.all_services(config.load(env)))


def test_medley_up_names_the_port_and_the_fix_in_one_line_and_starts_nothing():
    env = {**instance_env(), "MEDLEY_SERVICES__MINIO__CONSOLE_PORT": "45000", "MEDLEY_NO_VENV": "1"}
    done = subprocess.run([sys.executable, "-m", "medley", "up", "minio"], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == ExitCode.PORT_IN_USE, done.stdout + done.stderr
    errors = [line for line in done.stdout.splitlines() if "error" in line]
    assert len(errors) == 1, done.stdout
    assert "minio console_port 45000" in errors[0] and "medley.yaml" in errors[0]
    assert "starting" not in done.stdout


def test_a_port_held_by_another_process_is_refused_by_name(tmp_path):
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        svc = services.Service("squatted", ["true"], port, health=lambda: False)
        with pytest.raises(PortInUse, match=f"squatted: port {port} is already in use"):
            services.start(config.load(instance_env()), svc)
