"""Stdlib-only shim: make sure the pipeline virtualenv exists, then re-exec inside it.

`python3 -m medley ...` works on a fresh machine with nothing but Python: the first call builds
the pipeline env from requirements/pipeline.lock (with uv, itself cached), later calls only
compare a fingerprint and exec. Everything else in Medley may use third-party packages.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
UV_VERSION = "0.13.9"
LOCK = REPO_ROOT / "requirements" / "pipeline.lock"


def cache_dir() -> Path:
    """paths.cache_dir, read without PyYAML (this runs before any third-party package exists)."""
    override = os.environ.get("MEDLEY_PATHS__CACHE_DIR")
    if override:
        return Path(override).expanduser()
    config = Path(os.environ.get("MEDLEY_CONFIG", REPO_ROOT / "medley.yaml"))
    match = re.search(r"^\s+cache_dir:\s*(\S+)", config.read_text(), re.M) if config.exists() else None
    return Path(match.group(1) if match else "~/.cache/medley").expanduser()


def _say(msg: str) -> None:
    print(f"medley: {msg}", file=sys.stderr, flush=True)


def uv() -> Path:
    """A private uv, installed once with the machine's pip."""
    home = cache_dir() / "tools" / f"uv-{UV_VERSION}"
    exe = home / "bin" / "uv"
    if not exe.exists():
        _say(f"installing uv {UV_VERSION} into {home}")
        subprocess.run([sys.executable, "-m", "venv", str(home)], check=True)
        subprocess.run([str(home / "bin" / "pip"), "install", "-q", f"uv=={UV_VERSION}"], check=True)
    return exe


def make_env(name: str, lock: Path, editable: bool = False) -> Path:
    """Create or refresh cache_dir/venvs/<name> from a lock file; return its python."""
    env = cache_dir() / "venvs" / name
    python = env / "bin" / "python"
    stamp = env / ".medley-lock"
    digest = hashlib.sha256(lock.read_bytes()).hexdigest()
    if editable:  # the editable install also depends on the package list in pyproject.toml
        digest += ":" + str(REPO_ROOT) + ":" + hashlib.sha256(
            (REPO_ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if python.exists() and stamp.exists() and stamp.read_text() == digest:
        return python
    if shutil.which("java") is None and name == "pipeline":
        _say("warning: no java on PATH; Spark needs Java 17 (apt-get install openjdk-17-jdk-headless)")
    _say(f"building the {name} environment from {lock.relative_to(REPO_ROOT)} (first run only)")
    tool = uv()
    env_vars = {**os.environ, "UV_CACHE_DIR": str(cache_dir() / "uv-cache")}
    if not python.exists():
        subprocess.run([str(tool), "venv", "-q", "--python", sys.executable, str(env)],
                       check=True, env=env_vars)
    subprocess.run([str(tool), "pip", "sync", "-q", "--python", str(python), str(lock)],
                   check=True, env=env_vars)
    if editable:
        subprocess.run([str(tool), "pip", "install", "-q", "--no-deps", "--python", str(python),
                        "-e", str(REPO_ROOT)], check=True, env=env_vars)
    stamp.write_text(digest)
    return python


def ensure_pipeline_env(argv: list[str]) -> None:
    """Re-exec `python -m medley argv` inside the pipeline env unless already there."""
    python = make_env("pipeline", LOCK, editable=True)
    if Path(sys.prefix).resolve() == python.parent.parent.resolve():
        return
    os.execv(str(python), [str(python), "-m", "medley", *argv])
