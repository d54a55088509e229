"""What the fault tests share: a `medley run` in a process of its own (so a fault can kill it or
fail under it), and exact reads of what the lakehouse and Druid hold."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from instance import instance_env
from medley import REPO_ROOT, druid, storage
from medley.cli import main as cli_main


def start_run(cfg, log, *args: str, **env: str) -> subprocess.Popen:
    """`medley run` on cfg's bucket in its own process group, output to a file (a full pipe would
    stall it)."""
    return subprocess.Popen([sys.executable, "-m", "medley", "run", *args], cwd=REPO_ROOT,
                            env={**instance_env(), "MEDLEY_STORAGE__BUCKET": cfg.get("storage.bucket"),
                                 "MEDLEY_NO_VENV": "1", **env},
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def wait_for(found, proc: subprocess.Popen, log: Path, what: str, timeout: float = 900) -> None:
    """Poll until found() while the run is alive: the fault is injected at that moment."""
    deadline = time.monotonic() + timeout
    while not found():
        assert proc.poll() is None, f"the run ended before {what}:\n{log.read_text()[-3000:]}"
        assert time.monotonic() < deadline, f"{what} did not happen within {timeout:.0f}s"
        time.sleep(0.05)


def last_line(output: str) -> str:
    return output.strip().splitlines()[-1]


def generate(out: Path, start: str, end: str, users: int = 300, seed: int = 5) -> dict[str, int]:
    """EventSim (viirya) files for [start, end); lines per stream file."""
    assert cli_main(["generate", "--dialect", "viirya", "--start-time", start, "--end-time", end,
                     "--nusers", str(users), "--randomseed", str(seed), "--out", str(out)], {}) == 0
    return {f.name: len(f.read_text().splitlines()) for f in out.iterdir()}


def delta_versions(spark, cfg, table: str) -> list[int]:
    """The table's commits, oldest first; [] when it has none yet."""
    from delta.tables import DeltaTable

    location = storage.table_uri(cfg, table)
    if not DeltaTable.isDeltaTable(spark, location):
        return []
    return sorted(h["version"] for h in DeltaTable.forPath(spark, location).history().collect())


def rows(spark, cfg, table: str) -> list:
    """Every row of a Delta table, sorted, duplicates kept: equal lists mean identical tables."""
    return sorted(map(tuple, spark.read.format("delta").load(storage.table_uri(cfg, table)).collect()), key=repr)


def druid_rows(cfg, datasource: str, days: list[str]) -> list:
    found = druid.sql(cfg, f'SELECT * FROM "{datasource}" WHERE __time >= TIMESTAMP \'{min(days)} 00:00:00\' '
                           f"AND __time < TIMESTAMP '{max(days)} 00:00:00' + INTERVAL '1' DAY")
    return sorted((tuple(sorted(r.items())) for r in found), key=repr)


def druid_total(cfg, datasource: str, measure: str, day: str) -> int:
    return druid.sql(cfg, f'SELECT {measure} AS n FROM "{datasource}" WHERE __time >= TIMESTAMP \'{day} 00:00:00\' '
                          f"AND __time < TIMESTAMP '{day} 00:00:00' + INTERVAL '1' DAY")[0]["n"]


def pids_with(text: str) -> list[int]:
    """Processes whose command line contains text (e.g. a Druid task id: its peon JVM)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if text in cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace"):
                found.append(int(cmdline.parent.name))
        except OSError:
            continue
    return found


def killed_at(output: str, point: str, returncode: int) -> int:
    """Assert the run died at the crash point, by SIGKILL, and its Spark JVM with it; its pid."""
    assert returncode == -signal.SIGKILL, output[-3000:]
    line = next((x for x in output.splitlines() if x.startswith(f"crash point {point}: ")), None)
    assert line, f"never reached crash point {point}:\n{output[-3000:]}"
    jvm = int(line.split("Spark JVM (pid ")[1].split(")")[0])
    assert not os.path.exists(f"/proc/{jvm}"), f"the Spark JVM {jvm} outlived the crash"
    return jvm
