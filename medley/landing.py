"""The landing contract: where raw EventSim lines land in the object store.

One definition used by the generator's object-store writer, the Fluent Bit S3 output the Helm
chart ships (helm/, checked by tests/test_landing_contract.py) and the bronze reader:

    s3://<bucket>/<landing_prefix>/<stream>/event_date=YYYY-MM-DD/event_hour=HH/<producer>-<id>.jsonl.gz

- one object = gzip-compressed JSON lines, one EventSim event (or one Fluent Bit tail record that
  wraps the raw line in a `log` field) per line;
- partitioned by the UTC date and hour of the first event in the object;
- objects are written with a single PUT, so readers never see a partial object; a producer that
  restarts rewrites the same names with the same bytes, so nothing is duplicated.

An object that is not one complete gzip stream (GZIP_DAMAGE) is damaged: `check_gzip` tells
which way, and what decompressed before the damage.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Iterable

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


# How a landing object can fail to be one complete gzip stream (docs/reliability.md)
EMPTY_OBJECT = "empty_object"          # zero bytes
NOT_GZIP = "not_gzip"                  # no gzip header: e.g. plain JSON lines under a .gz name
TRUNCATED_GZIP = "truncated_gzip"      # the stream stops before its end (a cut upload or copy)
CORRUPT_GZIP = "corrupt_gzip"          # undecodable data or a bad checksum after a good start
GZIP_DAMAGE = (EMPTY_OBJECT, NOT_GZIP, TRUNCATED_GZIP, CORRUPT_GZIP)
_GZIP_MAGIC = b"\x1f\x8b"
_GZIP_WBITS = 16 + zlib.MAX_WBITS


@dataclass
class GzipCheck:
    damage: str | None          # one of GZIP_DAMAGE, None for one or more complete gzip members
    size_bytes: int
    text: bytes = b""           # what decompressed before the damage, when asked to keep it


def check_gzip(chunks: Iterable[bytes], keep_text: bool = False) -> GzipCheck:
    """Decompress an object's bytes as they stream in (concatenated members are valid gzip, as for
    gzip(1) and Hadoop) and say whether and how it is damaged."""
    size, kept, damage = 0, [], None
    decompressor = zlib.decompressobj(_GZIP_WBITS)
    started = False
    for chunk in chunks:
        if not started and chunk:
            started = True
            if not chunk.startswith(_GZIP_MAGIC[:len(chunk)]):
                damage = NOT_GZIP
        size += len(chunk)
        if damage:
            continue
        pending = chunk
        while pending and not damage:
            before = decompressor.copy()
            try:
                kept.append(decompressor.decompress(pending))
            except zlib.error:
                damage = CORRUPT_GZIP
                if keep_text:     # again byte by byte: keep all that decodes before the damage
                    kept.append(_decodable_prefix(before, pending))
                break
            pending = b""
            if decompressor.eof and decompressor.unused_data:      # the next member
                pending, decompressor = decompressor.unused_data, zlib.decompressobj(_GZIP_WBITS)
            if not keep_text:
                kept.clear()
    if size == 0:
        damage = EMPTY_OBJECT
    elif not damage and not decompressor.eof:
        damage = TRUNCATED_GZIP
    return GzipCheck(damage=damage, size_bytes=size, text=b"".join(kept))


def _decodable_prefix(decompressor, data: bytes) -> bytes:
    out = []
    for i in range(len(data)):
        try:
            out.append(decompressor.decompress(data[i:i + 1]))
        except zlib.error:
            break
    return b"".join(out)
