"""Tiny hand-made gold rows for the dashboards' tests, and the numbers each chart must show for
them, computed here in plain Python (never by Druid or Superset).

Thirty users over the three UTC days before today: D1 users 1-20, D2 users 11-30, D3 users 1-10
and 21-25; every active day a session of two requests (Home, NextSong). Users 11, 13 and 14
(free) upgrade on D2; user 21 (paid) downgrades on D3; user 12 (paid) cancels on D2 and user 25
(free) on D3. The aggregates are derived from the same rows, as gold derives them.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime, timedelta, timezone

TODAY = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
DAYS = [TODAY - timedelta(days=n) for n in (3, 2, 1)]
ACTIVE = {0: range(1, 21), 1: range(11, 31), 2: [*range(1, 11), *range(21, 26)]}
STATES = ("CA", "NY", "TX")
SESSION_S = 600.0


def iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def level(u: int) -> str:
    return "paid" if u % 3 == 0 else "free"


def user(u: int) -> dict:
    state = STATES[(u // 2) % 3]
    return {"level": level(u), "gender": "F" if u % 2 else "M", "state_code": state, "state_name": state,
            "city": "Springfield", "user_id": u}


UPGRADES = {(1, 11), (1, 13), (1, 14)}      # (day index, user)
DOWNGRADES = {(2, 21)}
CANCELS = {(1, 12), (2, 25)}


def _page(day: int, u: int, page: str, minute: int) -> dict:
    return {"hour": iso(DAYS[day] + timedelta(hours=10, minutes=minute)), "page": page, "method": "GET",
            "http_status": 200, "auth": "Logged In", **user(u), "session_id": u * 10 + day, "events": 1}


PAGE_VIEWS = [_page(d, u, page, m) for d, users in ACTIVE.items() for u in users
              for page, m in (("Home", 0), ("NextSong", 10))] + \
             [_page(d, u, "Submit Upgrade", 5) for d, u in sorted(UPGRADES)] + \
             [_page(d, u, "Cancellation Confirmation", 8) for d, u in sorted(CANCELS)]
PAGE_VIEW_COLUMNS = (("page", "string"), ("method", "string"), ("http_status", "long"), ("auth", "string"),
                     ("level", "string"), ("gender", "string"), ("state_code", "string"), ("state_name", "string"),
                     ("city", "string"), ("user_id", "long"), ("session_id", "long"), ("events", "long"))
# active_users: the page views rolled up per day x state x level x gender, users as a theta sketch.
ACTIVE_USERS_ROLLUP = {"dimensions": ["state_code", "level", "gender"],
                       "metrics": [{"type": "thetaSketch", "name": "users", "fieldName": "user_id"},
                                   {"type": "count", "name": "page_views"}]}
ACTIVE_USERS_GROUPS = len({(r["hour"][:10], r["state_code"], r["level"], r["gender"]) for r in PAGE_VIEWS})

STATUS_CHANGES = [{"hour": iso(DAYS[d] + timedelta(hours=10, minutes=6)), "previous_level": "free",
                   "new_level": "paid", "change_type": "upgrade", "auth": "Logged In", **user(u), "events": 1}
                  for d, u in sorted(UPGRADES)] + \
                 [{"hour": iso(DAYS[d] + timedelta(hours=10, minutes=6)), "previous_level": "paid",
                   "new_level": "free", "change_type": "downgrade", "auth": "Logged In", **user(u), "events": 1}
                  for d, u in sorted(DOWNGRADES)]
for row in STATUS_CHANGES:
    del row["level"]   # fact_status_change has previous_level and new_level instead
STATUS_CHANGE_COLUMNS = (("previous_level", "string"), ("new_level", "string"), ("change_type", "string"),
                         ("auth", "string"), ("gender", "string"), ("state_code", "string"), ("state_name", "string"),
                         ("city", "string"), ("user_id", "long"), ("events", "long"))

SESSIONS_DAILY = []
for d, users in ACTIVE.items():
    for lvl in ("free", "paid"):
        sessions = [u for u in users if level(u) == lvl]
        requests = sum(1 for r in PAGE_VIEWS if r["hour"].startswith(iso(DAYS[d])[:10]) and r["level"] == lvl)
        SESSIONS_DAILY.append({"hour": iso(DAYS[d]), "level": lvl, "session_count": len(sessions),
                               "total_session_s": SESSION_S * len(sessions), "avg_session_s": SESSION_S,
                               "avg_events_per_session": requests / len(sessions)})
SESSIONS_COLUMNS = (("level", "string"), ("session_count", "long"), ("total_session_s", "double"),
                    ("avg_session_s", "double"), ("avg_events_per_session", "double"))

SUBSCRIPTION_CHANGES = [{"hour": iso(DAYS[d]), "upgrades": sum(1 for e, _ in UPGRADES if e == d),
                         "downgrades": sum(1 for e, _ in DOWNGRADES if e == d),
                         "cancellations": sum(1 for e, _ in CANCELS if e == d)} for d in ACTIVE]
SUBSCRIPTION_COLUMNS = (("upgrades", "long"), ("downgrades", "long"), ("cancellations", "long"))


# --- the Overview's rows (agg_listens_hourly, fact_listen) ---------------------------------

# Recent hours: the Overview's time comparison looks at the last 7 days, and compares each hour
# with the same hour one day earlier (EARLIER = LATER - 24 h).
LATER = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
EARLIER = LATER - timedelta(days=1)


# Tiny hand-made gold rows: 3 states over 2 hours, one day apart.
ROWS = [
    {"hour": iso(EARLIER), "song": "A", "artist": "X", "state_code": "CA", "level": "paid",
     "gender": "F", "listen_count": 5, "listen_seconds": 1000.5},
    {"hour": iso(EARLIER), "song": "B", "artist": "Y", "state_code": "NY", "level": "free",
     "gender": "M", "listen_count": 2, "listen_seconds": 410.0},
    {"hour": iso(LATER), "song": "A", "artist": "X", "state_code": "CA", "level": "free",
     "gender": "M", "listen_count": 3, "listen_seconds": 600.25},
    {"hour": iso(LATER), "song": "C", "artist": "Z", "state_code": "TX", "level": "paid",
     "gender": "F", "listen_count": 7, "listen_seconds": 1500.0},
    {"hour": iso(LATER), "song": "B", "artist": "Y", "state_code": "NY", "level": "paid",
     "gender": "F", "listen_count": 1, "listen_seconds": 200.0},
]
def _listener(u: int, level: str) -> dict:
    return {"song": "A", "artist": "X", "state_code": "CA", "state_name": "California", "city": "Fresno",
            "level": level, "gender": "F" if u % 2 else "M", "auth": "Logged In", "user_id": u, "events": 1}


# Listens of LISTENERS users, the first 300 of them twice: enough distinct users that Druid's
# default (HLL) COUNT(DISTINCT) is off, so "Listeners" shows whether the exact setting took.
LISTENERS = 2000
# Users 1-100 play a second song in the same session: listens per session is 2,400 / 2,300.
FACT_ROWS = [{"hour": iso(LATER), **_listener(u, "paid" if u % 3 else "free"), "session_id": u, "duration_s": 200.0}
             for u in range(1, LISTENERS + 1)] + \
            [{"hour": iso(LATER), **_listener(u, "paid" if u % 3 else "free"), "session_id": u, "duration_s": 100.0}
             for u in range(1, 101)] + \
            [{"hour": iso(EARLIER), **_listener(u, "free"), "session_id": 10_000 + u, "duration_s": 180.0}
             for u in range(1, 301)]
FACT_SESSIONS = LISTENERS + 300



# --- what the charts must show -------------------------------------------------------------

def ms(t: datetime) -> int:
    return int(t.timestamp() * 1000)


def users_where(**match) -> set[int]:
    return {r["user_id"] for r in PAGE_VIEWS if all(r[k] == v for k, v in match.items())}


def dau() -> dict[int, int]:
    return {ms(DAYS[d]): len(set(users)) for d, users in ACTIVE.items()}


def by_month_start(t: datetime) -> datetime:
    return t.replace(day=1)


def mau() -> dict[int, int]:
    months: dict[datetime, set] = defaultdict(set)
    for d, users in ACTIVE.items():
        months[by_month_start(DAYS[d])] |= set(users)
    return {ms(m): len(u) for m, u in months.items()}


def stickiness() -> dict[int, float]:
    monthly = {m: n for m, n in mau().items()}
    return {ms(DAYS[d]): len(set(users)) / monthly[ms(by_month_start(DAYS[d]))] for d, users in ACTIVE.items()}


def wau() -> dict[int, int]:
    """Distinct users per calendar week (Druid's P1W starts on Monday)."""
    weeks: dict[datetime, set] = defaultdict(set)
    for d, users in ACTIVE.items():
        weeks[DAYS[d] - timedelta(days=DAYS[d].weekday())] |= set(users)
    return {ms(w): len(u) for w, u in weeks.items()}


def sessions_per_level() -> Counter:
    out = Counter()
    for r in SESSIONS_DAILY:
        out[r["level"]] += r["session_count"]
    return out
