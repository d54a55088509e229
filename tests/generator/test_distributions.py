"""Plausible distributions, within the tolerances stated here (real samples for comparison:
NextSong is 83% of viirya page views and 84% of the Sparkify sample)."""

from __future__ import annotations

from collections import Counter, defaultdict

from tests.generator.conftest import read


def test_distributions(week_run):
    pv = read(week_run / "page_view_events")
    pages = Counter(r["page"] for r in pv)
    assert 0.70 <= pages["NextSong"] / len(pv) <= 0.92          # share of NextSong among page views
    assert 0.02 <= pages["Home"] / len(pv) <= 0.20

    songs = defaultdict(int)
    for r in pv:
        if r["page"] == "NextSong":
            songs[r["sessionId"]] += 1
    per_session = sum(songs.values()) / len(songs)
    assert 2 <= per_session <= 15                                 # songs per session that has songs

    first_level = {}
    for r in pv:
        if "userId" in r:
            first_level.setdefault(r["userId"], r["level"])
    free = sum(v == "free" for v in first_level.values()) / len(first_level)
    assert 0.70 <= free <= 0.92                                   # config levels: free 10 : paid 2

    listen_levels = Counter(r["level"] for r in read(week_run / "listen_events"))
    # paid sessions are far longer, so most listens are paid (Sparkify sample: 27% free events)
    assert 0.15 <= listen_levels["free"] / sum(listen_levels.values()) <= 0.60

    auths = Counter(r["auth"] for r in pv)
    assert auths["Logged In"] / len(pv) >= 0.85 and auths["Logged Out"] > 0

    days = Counter((r["ts"] // 86_400_000 + 4) % 7 for r in pv)   # 0 = Sunday
    weekday = sum(days[d] for d in range(1, 6)) / 5
    weekend = (days[0] + days[6]) / 2
    assert 0.35 <= weekend / weekday <= 0.9                       # weekend damping 0.5
