"""Determinism, the simulation rules behind the flags, and the hourly landing objects."""

from __future__ import annotations

import gzip
import hashlib
import json
import math
import time
from argparse import Namespace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from medley.config import load
from medley.generator import engine
from medley.generator.options import resolve
from tests.generator.conftest import ACCEPTANCE, generate, read

WINDOW = ["--start-time", "2026-11-02T00:00:00", "--end-time", "2026-11-04T00:00:00"]


def digest(d: Path) -> dict:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(d.iterdir())}


@pytest.mark.parametrize("dialect", ["viirya", "interana"])
def test_same_flags_same_bytes(tmp_path, dialect):
    a = generate(tmp_path / "a", "--dialect", dialect, *ACCEPTANCE)
    b = generate(tmp_path / "b", "--dialect", dialect, *ACCEPTANCE)
    assert digest(a) == digest(b)
    c = generate(tmp_path / "c", "--dialect", dialect, *ACCEPTANCE[:-1], "8")
    assert digest(a) != digest(c)


def test_a_longer_run_starts_with_the_shorter_one(tmp_path):
    """Events before the end do not depend on it: what a restarted or extended run relies on."""
    short = generate(tmp_path / "s", *WINDOW, "--nusers", "500")
    long = generate(tmp_path / "l", WINDOW[0], WINDOW[1], "--end-time", "2026-11-05T00:00:00", "--nusers", "500")
    for name in ("page_view_events", "listen_events"):
        s, lng = (short / name).read_bytes(), (long / name).read_bytes()
        assert s and lng.startswith(s) and len(lng) > len(s)


def summary(tmp_path, *flags) -> dict:
    args = Namespace(config=None, start_time=None, end_time=None, from_days=None, to_days=None, nusers=None,
                     growth_rate=None, attrition_rate=None, userid=None, randomseed=None, tag=None,
                     continuous=False, dialect="viirya")
    for k, v in flags:
        setattr(args, k, v)
    return engine.to_files(load(), resolve(args), tmp_path)


def test_attrition_rate_as_documented(tmp_path):
    """A share r of the users leaves per year: over 60 days, 1-(1-r)^(60/365.25) of them."""
    s = summary(tmp_path, ("start_time", "2026-09-01T00:00:00"), ("end_time", "2026-10-31T00:00:00"),
                ("nusers", 3000), ("attrition_rate", 0.5), ("randomseed", 3))
    expected = 3000 * (1 - 0.5 ** (60 / 365.25))          # about 320
    assert abs(s["attrited"] - expected) < 0.25 * expected, s
    assert s["active_at_end"] > 2500                      # not "every user leaves after one session"


def test_growth_rate_adds_new_guest_users(tmp_path):
    s = summary(tmp_path, ("start_time", "2026-09-01T00:00:00"), ("end_time", "2026-10-31T00:00:00"),
                ("nusers", 3000), ("growth_rate", 1.0), ("randomseed", 3))
    expected = 3000 * (math.exp(60 / 365.25) - 1)        # compounding on current users: about 536
    assert 0.7 * expected < s["growth_users"] < 1.5 * expected, s


def test_userid_tag_and_registration(tmp_path):
    out = generate(tmp_path, *WINDOW, "--nusers", "300", "--userid", "1000", "--tag", "B")
    rows = read(out / "page_view_events")
    shown = [r for r in rows if "userId" in r]
    assert shown and min(r["userId"] for r in shown) > 1000
    assert all(r["tag"] == "B" for r in shown)
    assert all("tag" not in r for r in rows if "userId" not in r)
    start = int(datetime(2026, 11, 2, tzinfo=timezone.utc).timestamp() * 1000)
    assert all(start - 5 * 366 * 86400_000 <= r["registration"] <= r["ts"] for r in shown)


def test_continuous_is_paced_to_the_wall_clock(tmp_path):
    now = datetime.now(timezone.utc).replace(microsecond=0)
    end = now + timedelta(seconds=4)
    began = time.monotonic()
    out = generate(tmp_path, "--continuous", "--start-time", (now - timedelta(hours=2)).isoformat(),
                   "--end-time", end.isoformat(), "--nusers", "100000")
    assert time.monotonic() - began >= 3          # it lasted until the end time
    ts = [r["ts"] for r in read(out / "page_view_events")]
    assert max(ts) < end.timestamp() * 1000
    assert max(ts) > now.timestamp() * 1000       # events from the future were held back, not dropped


def test_hourly_objects_are_deterministic_and_complete(tmp_path):
    """The spool the landing writer uploads: one gzip object per stream and event hour, the same
    bytes on a rerun, and together exactly the file output."""
    args = Namespace(config=None, start_time="2026-11-02T00:00:00", end_time="2026-11-02T06:00:00", from_days=None,
                     to_days=None, nusers=2000, growth_rate=None, attrition_rate=None, userid=None, randomseed=5,
                     tag=None, continuous=False, dialect="viirya")
    opts = resolve(args)
    runs = []
    for i in range(2):
        got = {}
        engine.to_spool(load(), opts, tmp_path / f"spool{i}",
                        lambda stream, hour, path: got.setdefault((stream, hour), path.read_bytes()))
        runs.append(got)
    assert runs[0] == runs[1]
    hours = {h for _, h in runs[0]}
    assert len(hours) == 6 and all(h % 3600 == 0 for h in hours)
    files = engine.to_files(load(), opts, tmp_path / "files") and tmp_path / "files"
    for stream in ("page_view_events", "listen_events"):
        joined = b"".join(gzip.decompress(runs[0][(stream, h)]) for h in sorted(hours) if (stream, h) in runs[0])
        assert joined == (files / stream).read_bytes()
        for h in hours:
            if (stream, h) in runs[0]:
                for line in gzip.decompress(runs[0][(stream, h)]).splitlines():
                    assert h * 1000 <= json.loads(line)["ts"] < (h + 3600) * 1000
