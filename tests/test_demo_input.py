"""The demo's input: a recent week of generated events (the dashboards look like a running
product), made once and reused, so a later demo lands the same objects instead of a second week."""

from __future__ import annotations

import json
from datetime import datetime, timezone

from instance import instance_env
from medley import commands, config, land


def test_the_window_is_the_week_up_to_the_current_hour():
    now = datetime(2026, 12, 4, 6, 41, 13, tzinfo=timezone.utc)
    assert commands.demo_window(now) == (datetime(2026, 11, 27, 6), datetime(2026, 12, 4, 6))


def test_the_input_is_made_once_and_every_event_is_in_the_window(tmp_path):
    cfg = config.load({**instance_env(), "MEDLEY_PATHS__STATE_DIR": str(tmp_path)})
    now = datetime(2026, 12, 4, 6, 41, tzinfo=timezone.utc)
    made = commands.demo_input(cfg, now)
    files = sorted(p.name for p in made.iterdir())
    assert files == ["auth_events", "interana_events", "listen_events", "page_view_events", "status_change_events"]
    hours = {when for f in made.iterdir() for when in land.group_by_hour(f.read_text().splitlines())}
    assert min(hours) >= datetime(2026, 11, 27, 6, tzinfo=timezone.utc) and \
        max(hours) < datetime(2026, 12, 4, 6, tzinfo=timezone.utc)
    assert len({h.date() for h in hours}) == 8          # every day of the week has events
    *_, a, b, c = [json.loads(line) for line in (made / "listen_events").read_text().splitlines()]
    assert (a["duration"] < 0, b["duration"], c["level"]) == (True, "3:36", "trial")  # the quarantine's sample
    stamp = {p.name: p.stat().st_mtime_ns for p in made.iterdir()}
    assert commands.demo_input(cfg, datetime(2026, 12, 9, tzinfo=timezone.utc)) == made
    assert {p.name: p.stat().st_mtime_ns for p in made.iterdir()} == stamp   # not made again
