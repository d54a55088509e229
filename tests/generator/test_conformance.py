"""Our output against the real EventSim samples: keys, key order, types, presence, timing rules."""

from __future__ import annotations

import json
import re
from collections import defaultdict

import pytest

from medley.generator.options import DEFAULT_CONFIG
from tests.generator.conftest import SAMPLES, VIIRYA_STREAMS, read

DEVICE = ["city", "zip", "state", "userAgent", "lon", "lat"]
USER = ["userId", "lastName", "firstName", "gender", "registration"]
SONG = ["artist", "song", "duration"]
# key order per stream: the fixed head, then optional groups in this order (see the shared README)
ORDERS = {
    "page_view_events": (["ts", "sessionId", "page", "auth", "method", "status", "level", "itemInSession", *DEVICE],
                         [USER, SONG]),
    "listen_events": ([*SONG, "ts", "sessionId", "auth", "level", "itemInSession", *DEVICE, *USER], []),
    "auth_events": (["ts", "sessionId", "level", "itemInSession", *DEVICE], [USER, ["success"]]),
    "status_change_events": (["ts", "sessionId", "auth", "level", "itemInSession", *DEVICE, *USER], []),
}
SHOWN = {"Logged In", "Cancelled"}
AUTHS = {"Logged In", "Logged Out", "Guest", "Cancelled"}
TYPES = {"ts": int, "sessionId": int, "itemInSession": int, "status": int, "userId": int, "registration": int,
         "lon": float, "lat": float, "duration": float, "success": bool}


def sources(run):
    return {"sample": SAMPLES / "viirya", "generated": run}


@pytest.fixture(params=["sample", "generated"])
def viirya(request, viirya_run):
    d = sources(viirya_run)[request.param]
    return request.param, {s: read(d / s) for s in VIIRYA_STREAMS}


def allowed(stream: str) -> list[tuple[str, ...]]:
    head, optional = ORDERS[stream]
    out = [tuple(head)]
    for group in optional:  # each optional group may be present or not, order kept
        out += [o + tuple(group) for o in out]
    return out


def test_key_order_and_types(viirya):
    _, streams = viirya
    for stream, rows in streams.items():
        orders = allowed(stream)
        for r in rows:
            assert tuple(r) in orders, (stream, list(r))
            for key, value in r.items():
                want = TYPES.get(key, str)
                assert type(value) is want, (stream, key, value)
            assert re.fullmatch(r"\d{5}", r["zip"]), r["zip"]
            assert r["level"] in {"free", "paid"}
            assert r.get("auth", "Logged In") in AUTHS
            assert r.get("gender", "F") in {"M", "F"}


def test_user_fields_only_when_shown(viirya):
    _, streams = viirya
    for stream in ("page_view_events", "listen_events", "status_change_events"):
        for r in streams[stream]:
            assert ("userId" in r) == (r["auth"] in SHOWN), r
            assert all(k in r for k in DEVICE)


def test_each_stream_sorted_with_one_millisecond_remainder(viirya):
    _, streams = viirya
    rems = set()
    for rows in streams.values():
        ts = [r["ts"] for r in rows]
        assert ts == sorted(ts)
        rems |= {t % 1000 for t in ts} | {r["registration"] % 1000 for r in rows if "registration" in r}
    assert len(rems) == 1


def config_pages() -> dict:
    conf = json.loads(DEFAULT_CONFIG["viirya"].read_text())
    pages = {}
    for t in conf["transitions"]:
        for s in (t["source"], t["dest"]):
            pages[s["page"]] = (s["method"], s["status"])
    return pages


def test_page_method_status_mapping(viirya):
    _, streams = viirya
    pages = config_pages()
    for r in streams["page_view_events"]:
        assert (r["method"], r["status"]) == pages[r["page"]], r


def sessions(rows):
    by = defaultdict(list)
    for r in rows:
        by[r["sessionId"]].append(r)
    for events in by.values():
        events.sort(key=lambda r: (r["ts"], r["itemInSession"]))
    return by


def test_timing_rules(viirya):
    """Redirects come 1 s later; a song that follows a song comes floor(previous duration) later."""
    _, streams = viirya
    checked = 0
    for events in sessions(streams["page_view_events"]).values():
        for a, b in zip(events, events[1:]):
            if b["itemInSession"] != a["itemInSession"] + 1:
                continue
            if 300 <= b["status"] < 400:
                assert b["ts"] - a["ts"] == 1000, (a, b)
                checked += 1
            elif a["page"] == b["page"] == "NextSong":
                assert b["ts"] - a["ts"] == int(a["duration"]) * 1000, (a, b)
                checked += 1
            else:
                assert b["ts"] >= a["ts"]
    assert checked > 10


def test_streams_are_consistent(viirya_run):
    """Every listen is a page view; status changes are Submit Upgrade/Downgrade pages; auth events
    are the events that follow a Login page."""
    streams = {s: read(viirya_run / s) for s in VIIRYA_STREAMS}
    pv = streams["page_view_events"]
    drop = lambda r, keys: {k: v for k, v in r.items() if k not in keys}  # noqa: E731
    canon = lambda rows: sorted(json.dumps(r, sort_keys=True) for r in rows)  # noqa: E731
    songs = [drop(r, {"page", "method", "status"}) for r in pv if r["page"] == "NextSong"]
    assert canon(songs) == canon(streams["listen_events"])
    changes = [drop(r, {"page", "method", "status"}) for r in pv if r["page"] in ("Submit Upgrade", "Submit Downgrade")]
    assert changes == streams["status_change_events"]
    after_login = []
    for events in sessions(pv).values():
        for a, b in zip(events, events[1:]):
            if a["page"] == "Login" and b["itemInSession"] == a["itemInSession"] + 1:
                r = drop(b, {"page", "method", "status", "auth"})
                r["success"] = b["auth"] == "Logged In"
                after_login.append(r)
    assert canon(after_login) == canon(streams["auth_events"])
    assert streams["auth_events"], "the acceptance run has logins"


def test_status_change_carries_the_old_level(viirya_run):
    for r in read(viirya_run / "page_view_events"):
        if r["page"] == "Submit Upgrade":
            assert r["level"] == "free"
        if r["page"] == "Submit Downgrade":
            assert r["level"] == "paid"


INTERANA_HEAD = ["ts", "userId", "sessionId", "page", "auth", "method", "status", "level", "itemInSession"]
INTERANA_USER = ["location", "userAgent", "lastName", "firstName", "registration", "gender"]


@pytest.mark.parametrize("source", ["sample", "generated"])
def test_interana_dialect(source, interana_run):
    path = SAMPLES / "interana" / "sparkify_log_small.json" if source == "sample" else interana_run / "interana_events"
    rows = read(path)
    assert rows
    for r in rows:
        keys = list(r)
        shown = r["auth"] in SHOWN
        want = INTERANA_HEAD + (INTERANA_USER if shown else []) + (["artist", "song", "length"] if r["page"] == "NextSong" else [])
        assert keys == want, keys
        assert isinstance(r["userId"], str) and (r["userId"] == "") == (not shown)
        assert type(r["ts"]) is int and type(r["sessionId"]) is int
        if shown:
            assert re.fullmatch(r".+, [A-Z]{2}(-[A-Z]{2})*", r["location"]), r["location"]
            assert type(r["registration"]) is int
        if "length" in r:
            assert type(r["length"]) is float
    assert [r["ts"] for r in rows] == sorted(r["ts"] for r in rows)
