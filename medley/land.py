"""Landing EventSim output files in the object store, exactly as Fluent Bit would.

Lines are grouped by the UTC hour of their `ts` (a line without a readable ts stays with the line
before it, so broken lines are landed too and quarantined later, never dropped). Each group is one
gzip JSON-lines object named after its content digest: landing the same files again rewrites the
same keys with the same bytes, so reruns never duplicate data. A file that lands nothing (empty,
only blank lines, or no EventSim stream) is reported as skipped, with why.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from medley import landing, storage
from medley.config import Config


@dataclass
class Landed:
    stream: str | None
    source_file: str
    lines: int
    objects: int
    skipped: str = ""       # why nothing of the file was landed, e.g. "empty file"


def stream_of(path: Path) -> str | None:
    """Which stream an EventSim output file holds, from its name (or its content for Sparkify logs)."""
    for stream in landing.VIIRYA_STREAMS:
        if stream in path.name:
            return stream
    with path.open(errors="replace") as f:
        first = f.readline()
    if '"location"' in first or '"userId":"' in first:
        return landing.INTERANA_STREAM
    return None


def _event_hour(line: str) -> datetime | None:
    try:
        record = json.loads(line)
        if isinstance(record, dict) and "log" in record and "ts" not in record:
            record = json.loads(record["log"])
        return datetime.fromtimestamp(int(record["ts"]) // 1000, tz=timezone.utc).replace(
            minute=0, second=0)
    except (ValueError, TypeError, KeyError, OverflowError, OSError):
        return None


def group_by_hour(lines: list[str]) -> dict[datetime, list[str]]:
    groups: dict[datetime, list[str]] = defaultdict(list)
    current = None
    for line in lines:
        current = _event_hour(line) or current or datetime(1970, 1, 1, tzinfo=timezone.utc)
        groups[current].append(line)
    return groups


def land_file(cfg: Config, path: Path, stream: str) -> Landed:
    lines = [ln for ln in path.read_text(encoding="utf-8", errors="surrogateescape").splitlines() if ln.strip()]
    groups = group_by_hour(lines)
    for hour, group in sorted(groups.items()):
        body = ("\n".join(group) + "\n").encode("utf-8", errors="surrogateescape")
        name = "file-" + hashlib.sha256(body).hexdigest()[:20]
        key = landing.object_key(cfg.get("storage.landing_prefix"), stream, hour, name)
        storage.put_bytes(cfg, key, gzip.compress(body, mtime=0), "application/gzip")
    return Landed(stream, path.name, len(lines), len(groups))


def land_directory(cfg: Config, directory: Path) -> list[Landed]:
    storage.ensure_bucket(cfg)
    landed = []
    for path in sorted(p for p in Path(directory).iterdir() if p.is_file()):
        stream = None if path.stat().st_size == 0 else stream_of(path)
        if stream is None:
            why = "empty file" if path.stat().st_size == 0 else "no stream in its name and not a Sparkify log"
            landed.append(Landed(None, path.name, 0, 0, skipped=why))
            continue
        result = land_file(cfg, path, stream)
        result.skipped = "" if result.lines else "only blank lines"
        landed.append(result)
    return landed
