"""Output for people: progress lines for long steps and a summary table at the end."""

from __future__ import annotations

import sys
import time
from contextlib import contextmanager
from typing import Iterator, Sequence


def say(msg: str = "") -> None:
    print(msg, flush=True)


def warn(msg: str) -> None:
    print(f"medley: {msg}", file=sys.stderr, flush=True)


@contextmanager
def step(label: str) -> Iterator[dict]:
    """Print `label ...` then `label: ok (1.2s)`; the yielded dict collects a result note."""
    start = time.monotonic()
    note: dict = {}
    say(f"-> {label} ...")
    try:
        yield note
    except BaseException:
        say(f"   {label}: FAILED after {time.monotonic() - start:.1f}s")
        raise
    extra = f" {note['note']}" if note.get("note") else ""
    note["seconds"] = time.monotonic() - start
    say(f"   {label}: ok ({note['seconds']:.1f}s){extra}")


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    cells = [[str(h) for h in headers]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    line = "+".join("-" * (w + 2) for w in widths)
    fmt = lambda r: "|".join(f" {c:<{w}} " for c, w in zip(r, widths))  # noqa: E731
    return "\n".join([fmt(cells[0]), line, *(fmt(r) for r in cells[1:])])
