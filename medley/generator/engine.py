"""Runs the Go simulation core and reports what it wrote."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Callable, Iterator

from medley.bootstrap import ensure
from medley.config import Config
from medley.errors import MedleyError
from medley.generator.options import Options


def binary(cfg: Config) -> Path:
    return ensure(cfg, "generator")


def to_files(cfg: Config, opts: Options, out: Path) -> dict:
    """Write the stream files into `out`; return the engine's summary."""
    summary: dict = {}
    for kind, fields in _run(cfg, opts, ["-out", str(out)]):
        if kind == "summary":
            summary = json.loads(fields[0])
    return summary


def to_spool(cfg: Config, opts: Options, spool: Path, on_object: Callable[[str, int, Path], None]) -> dict:
    """Write hourly gzip objects into `spool`, handing each finished one to on_object(stream, hour, path)."""
    summary: dict = {}
    for kind, fields in _run(cfg, opts, ["-spool", str(spool)]):
        if kind == "object":
            stream, hour, path = fields
            on_object(stream, int(hour), Path(path))
        elif kind == "summary":
            summary = json.loads(fields[0])
    return summary


def _run(cfg: Config, opts: Options, target: list[str]) -> Iterator[tuple[str, list[str]]]:
    argv = [str(binary(cfg)), *opts.engine_args(), *target]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, bufsize=1)
    try:
        for line in proc.stdout:
            kind, *fields = line.rstrip("\n").split("\t")
            yield kind, fields
        code = proc.wait()
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait()
    if code != 0:
        raise MedleyError(f"the generator core exited with {code} (its message is above)",
                          "check the flags and the --config file")
