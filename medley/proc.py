"""Running external tools: logged to a file, failures summarised in one actionable line."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
from pathlib import Path
from typing import Mapping, Sequence

from medley.errors import MedleyError, MissingTool

# How to get each prerequisite on this machine kind (Debian 12).
INSTALL_HINTS = {
    "java": "install Java 17: apt-get install -y openjdk-17-jdk-headless",
    "go": "install Go >= 1.24: https://go.dev/doc/install (or apt-get install -y golang-go from backports)",
    "mvn": "install Maven: apt-get install -y maven",
    "apt-get": "this step needs Debian's apt-get; install the package by hand",
}


def alive(pid: int) -> bool:
    """Whether a process with this pid exists (signal 0 checks without sending anything)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:     # exists, owned by someone else
        return True
    return True


def require(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise MissingTool(f"'{tool}' is not on PATH", INSTALL_HINTS.get(tool, f"install {tool}"))
    return path


def tail(path: Path, lines: int = 15) -> str:
    if not path.exists():
        return ""
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def run_logged(argv: Sequence[str], log: Path, *, cwd: Path | None = None,
               env: Mapping[str, str] | None = None, what: str = "") -> None:
    """Run argv with output appended to log; raise a MedleyError naming the log on failure."""
    require(argv[0]) if "/" not in argv[0] else None
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("a") as out:
        out.write(f"\n$ {' '.join(map(str, argv))}\n")
        out.flush()
        code = subprocess.run(list(map(str, argv)), cwd=cwd, env=env, stdout=out,
                              stderr=subprocess.STDOUT).returncode
    if code != 0:
        raise MedleyError(f"{what or argv[0]} failed (exit {code}); last lines of {log}:\n{tail(log)}",
                          f"read {log}")


def go_install(module: str, version: str, bin_dir: Path, log: Path) -> None:
    """`go install module@version` into bin_dir as a static binary (CGO off: nothing from the host)."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "GOBIN": str(bin_dir), "CGO_ENABLED": "0", "GOTOOLCHAIN": "local",
           "GOFLAGS": "-trimpath"}
    run_logged([require("go"), "install", f"{module}@{version}"], log, env=env,
               what=f"go install {module}@{version}")


def apt_install(package: str, provides: Path, what: str, log: Path) -> None:
    """Install a Debian package that provides `provides`; without apt-get, say what to install."""
    apt = shutil.which("apt-get")
    if apt is None:
        raise MissingTool(f"{what} is not installed ({provides} is missing) and apt-get is unavailable",
                          f"install {what} with your package manager so that {provides} exists, "
                          "then rerun `python3 -m medley bootstrap`")
    # `medley test` builds components on two threads and in a background process: one apt at a
    # time among them (apt-get fails at once on dpkg's lock), and a while for anyone else's apt.
    wait = ["-o", "DPkg::Lock::Timeout=600"]
    try:
        with open("/tmp/medley-apt.lock", "w") as held:
            fcntl.flock(held, fcntl.LOCK_EX)
            run_logged([apt, *wait, "update"], log, what="apt-get update")
            run_logged([apt, *wait, "install", "-y", "--no-install-recommends", package], log,
                       env={"DEBIAN_FRONTEND": "noninteractive", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
                       what=f"apt-get install {package}")
    except MedleyError as failed:
        # apt's own last lines (no root, a held lock, no network) are in the log; the fix is one command
        raise MissingTool(f"{what} is not installed: {failed.message.split(';')[0]} (output in {log})",
                          f"as root: apt-get install -y {package}, then rerun `python3 -m medley bootstrap`") from failed
