"""A corpus of broken EventSim lines, each with the quarantine reason silver must give it."""

import json

GOOD_LISTEN = {
    "artist": "Sam Sparro", "song": "Black & Gold", "duration": 210.33751, "ts": 1762041600000,
    "sessionId": 729, "auth": "Logged In", "level": "paid", "itemInSession": 107, "city": "Anaheim",
    "zip": "92806", "state": "CA", "userAgent": "\"Mozilla/5.0\"", "lon": -117.870494, "lat": 33.83796,
    "userId": 730, "lastName": "Johnson", "firstName": "Andre", "gender": "M", "registration": 1703420928902,
}
GOOD_PAGE_VIEW = {
    "ts": 1762041601000, "sessionId": 53, "page": "Home", "auth": "Logged Out", "method": "GET",
    "status": 200, "level": "free", "itemInSession": 2, "city": "Miami", "zip": "85539", "state": "AZ",
    "userAgent": "\"Mozilla/5.0\"", "lon": -110.894685, "lat": 33.339679,
}


def _listen(**changes) -> str:
    record = {**GOOD_LISTEN, **changes}
    return json.dumps({k: v for k, v in record.items() if v is not ...})


def _page(**changes) -> str:
    record = {**GOOD_PAGE_VIEW, **changes}
    return json.dumps({k: v for k, v in record.items() if v is not ...})


# (stream, raw line, expected reason); `...` removes a key. Timestamps are 2025-11-02 (UTC).
BAD_LINES = [
    ("listen_events", '{"artist": "A", "song": ', "malformed_json"),
    ("listen_events", "not json at all", "malformed_json"),
    ("listen_events", _listen(song=...), "missing_field:song"),
    ("listen_events", _listen(userId=None), "missing_field:userId"),
    ("listen_events", _listen(ts="yesterday"), "wrong_type:ts"),
    ("listen_events", _listen(duration="long"), "wrong_type:duration"),
    ("listen_events", _listen(duration=-3.5, itemInSession=108), "negative_duration"),
    ("listen_events", _listen(level="gold", itemInSession=109), "unknown_level"),
    ("listen_events", _listen(ts=4102444800000, itemInSession=110), "ts_in_future"),
    ("listen_events", _listen(ts=86400000, itemInSession=111), "ts_out_of_range"),
    ("listen_events", _listen(lat=123.0, itemInSession=112), "coordinates_out_of_range"),
    ("page_view_events", _page(page="Teleport"), "unknown_page"),
    ("page_view_events", _page(method="DELETE", itemInSession=3), "unknown_method"),
    ("page_view_events", _page(status=500, itemInSession=4), "unknown_status"),
    ("page_view_events", _page(auth="Admin", itemInSession=5), "unknown_auth"),
    ("page_view_events", _page(userId=9, firstName="X", itemInSession=6), "user_fields_without_login"),
    ("page_view_events", _page(sessionId=-1, itemInSession=7), "negative_id"),
    # a float is accepted for an integer field only when it is whole (730.0 is userId 730)
    ("listen_events", _listen(userId=730.5, itemInSession=113), "wrong_type:userId"),
    # two objects on one line: reading only the first would drop the second without a word
    ("listen_events", _listen(itemInSession=114) + _listen(itemInSession=115), "malformed_json"),
]
# Good lines that stress the reader: a Fluent Bit tail record wrapping the line, a number as text.
GOOD_LINES = [
    ("listen_events", json.dumps({"log": _listen(itemInSession=200), "stream": "stdout"})),
    ("listen_events", _listen(itemInSession=201, userId="730")),
    ("page_view_events", _page(itemInSession=8)),
]
