"""Generator options for the benchmarks: a fixed window of users, one seed, the viirya dialect."""

from __future__ import annotations

import sys
from argparse import Namespace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from medley.generator.options import Options, resolve  # noqa: E402


def options(users: int, start: str, end: str, seed: int = 1, first_user: int = 1,
            dialect: str = "viirya") -> Options:
    """`start`/`end`: ISO date-times, UTC, end exclusive."""
    return resolve(Namespace(config=None, start_time=start, end_time=end, from_days=None, to_days=None,
                             nusers=users, growth_rate=None, attrition_rate=None, userid=first_user,
                             randomseed=seed, tag=None, continuous=False, dialect=dialect))
