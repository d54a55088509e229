"""The landing contract: where raw EventSim lines land in the object store.

One definition used by the generator's object-store writer, the Fluent Bit S3 output the Helm
chart ships (helm/, checked by tests/test_landing_contract.py) and the bronze reader:

    s3://<bucket>/<landing_prefix>/<stream>/event_date=YYYY-MM-DD/event_hour=HH/<producer>-<id>.jsonl.gz

- one object = gzip-compressed JSON lines, one EventSim event (or one Fluent Bit tail record that
  wraps the raw line in a `log` field) per line;
- partitioned by the UTC date and hour of the first event in the object;
- objects are written with a single PUT, so readers never see a partial object; a producer that
  restarts rewrites the same names with the same bytes, so nothing is duplicated.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone

# The four streams of EventSim's viirya fork (what Streamify consumes), plus the single stream of
# the original Interana dialect ("Sparkify" logs), which silver splits into the same four tables.
VIIRYA_STREAMS = ("listen_events", "page_view_events", "auth_events", "status_change_events")
INTERANA_STREAM = "interana_events"
STREAMS = VIIRYA_STREAMS + (INTERANA_STREAM,)

COMPRESSION = "gzip"
EXTENSION = ".jsonl.gz"
# Fluent Bit's S3 output writes the same layout: the tag is eventsim.<stream>, and the time
# fields come from the record's parsed `ts`.
FLUENT_BIT_TAG_PREFIX = "eventsim."
FLUENT_BIT_S3_KEY_FORMAT = (
    "/{landing_prefix}/$TAG[1]/event_date=%Y-%m-%d/event_hour=%H/fluent-bit-$UUID" + EXTENSION
)

_KEY = re.compile(
    r"^(?P<prefix>.+)/(?P<stream>[a-z_]+)/event_date=(?P<date>\d{4}-\d{2}-\d{2})/"
    r"event_hour=(?P<hour>\d{2})/(?P<name>[^/]+)" + re.escape(EXTENSION) + "$"
)


def stream_prefix(landing_prefix: str, stream: str) -> str:
    return f"{landing_prefix.strip('/')}/{stream}/"


def object_key(landing_prefix: str, stream: str, event_time: datetime, name: str) -> str:
    """Key of one landing object; event_time is the (UTC) time of its first event."""
    if stream not in STREAMS:
        raise ValueError(f"unknown stream {stream!r}; expected one of {STREAMS}")
    if "/" in name or not name:
        raise ValueError(f"object name must be a plain file name, got {name!r}")
    t = event_time.astimezone(timezone.utc)
    return (f"{stream_prefix(landing_prefix, stream)}event_date={t:%Y-%m-%d}/event_hour={t:%H}/"
            f"{name}{EXTENSION}")


def parse_key(key: str) -> dict:
    """The stream, event date and hour a landing key encodes; ValueError if it breaks the contract."""
    m = _KEY.match(key.lstrip("/"))
    if not m:
        raise ValueError(f"not a landing object key: {key!r}")
    return {"stream": m["stream"], "event_date": m["date"], "event_hour": int(m["hour"]), "name": m["name"]}


def fluent_bit_key_format(landing_prefix: str) -> str:
    return FLUENT_BIT_S3_KEY_FORMAT.format(landing_prefix=landing_prefix.strip("/"))
