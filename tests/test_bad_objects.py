"""Bad objects never crash a job nor cost a neighbour line: a truncated gzip, a non-gzip object
under .gz, an empty object, a 10 MB line, invalid UTF-8 and a zero-byte input file each end in
quarantine with their reason, or in a skip whose reason is recorded (bronze.damaged_objects, the
land step's note). docs/reliability.md, "Bad objects"."""

from __future__ import annotations

import gzip
import json
import zlib
from datetime import datetime, timezone

import pytest

from corpus import GOOD_LISTEN
from instance import fresh_bucket, instance_env
from medley import config, hops, landing, pipeline, storage
from spark.bronze import events as bronze_events

BUCKET = "medley-bad-objects"
HOUR = datetime(2025, 11, 2, 0, tzinfo=timezone.utc)


def listen(item: int, **changes) -> str:
    return json.dumps({**GOOD_LISTEN, "itemInSession": item, "ts": GOOD_LISTEN["ts"] + 1000 * item, **changes})


def chunks(data: bytes, size: int = 1000) -> list[bytes]:
    return [data[i:i + size] for i in range(0, len(data), size)]


# --- the gzip check, without services -------------------------------------------------------------

BODY = "".join(listen(i) + "\n" for i in range(200)).encode()


CASES = [
    ("whole", gzip.compress(BODY), None, BODY),
    ("two members (gzip -c a b)", gzip.compress(BODY) + gzip.compress(BODY), None, BODY + BODY),
    ("empty", b"", landing.EMPTY_OBJECT, b""),
    ("plain JSON lines", BODY, landing.NOT_GZIP, b""),
    ("cut in half", gzip.compress(BODY)[:len(gzip.compress(BODY)) // 2], landing.TRUNCATED_GZIP, None),
    ("only the first byte", b"\x1f", landing.TRUNCATED_GZIP, b""),
    ("bad checksum", gzip.compress(BODY)[:-8] + bytes(8), landing.CORRUPT_GZIP, BODY),
]


@pytest.mark.parametrize("name, data, damage, text", CASES, ids=[case[0] for case in CASES])
def test_check_gzip_names_the_damage_and_keeps_what_decompressed(name, data, damage, text):
    checked = landing.check_gzip(chunks(data), keep_text=True)
    assert (checked.damage, checked.size_bytes) == (damage, len(data)), name
    if text is None:     # cut: a prefix of the body, as zlib itself decompresses it
        text = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(data)
        assert 0 < len(text) < len(BODY) and BODY.startswith(text)
    assert checked.text == text, name
    assert landing.check_gzip(chunks(data)).text == b""      # kept only when asked


# --- a real run: MinIO, local Spark, Delta, Great Expectations ------------------------------------

@pytest.mark.services
def test_bad_objects_are_recorded_or_quarantined_and_their_neighbours_kept(object_store, spark, tmp_path):
    fresh_bucket(BUCKET)
    cfg = config.load({**instance_env(), "MEDLEY_STORAGE__BUCKET": BUCKET, "MEDLEY_QUALITY__QUARANTINE_MAX_RATE": "1"})
    prefix = cfg.get("storage.landing_prefix")
    # an input directory: good listens around a 10 MB line and a line with Latin-1 bytes, an empty file
    runaway = listen(2, song="la" * 5_000_000)
    latin1 = listen(4, song="Cafe").replace("Cafe", "Caf\udce9")    # the byte 0xE9 (é in Latin-1), not UTF-8
    lines = [listen(1), runaway, listen(3), latin1, listen(5)]
    (tmp_path / "listen_events").write_bytes(("\n".join(lines) + "\n").encode("utf-8", "surrogateescape"))
    (tmp_path / "page_view_events").write_bytes(b"")
    # landing objects written by a broken producer: cut, not gzip, empty
    cut_body = "".join(listen(i) + "\n" for i in range(100, 160)).encode()
    cut = gzip.compress(cut_body)[:len(gzip.compress(cut_body)) * 2 // 3]
    salvaged = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(cut).decode().splitlines()
    objects = {"cut": cut, "plain": (listen(200) + "\n" + listen(201) + "\n").encode(), "empty": b""}
    keys = {name: landing.object_key(prefix, "listen_events", HOUR, name) for name in objects}
    for name, data in objects.items():
        storage.put_bytes(cfg, keys[name], data)

    report = pipeline.run(cfg, tmp_path, stop_after="silver")
    land_note = next(note for step, _, note in report.steps if step == "land")
    assert "skipped: page_view_events (empty file)" in land_note

    damaged = {r.source_object: (r.damage, r.size_bytes, r.lines_salvaged)
               for r in hops.table(spark, cfg, "bronze.damaged_objects").collect()}
    assert damaged == {keys["cut"]: ("truncated_gzip", len(cut), len(salvaged)),
                       keys["plain"]: ("not_gzip", len(objects["plain"]), 0),
                       keys["empty"]: ("empty_object", 0, 0)}
    quarantined = {(r.source_object == keys["cut"], r.reason, len(r.raw_record))
                   for r in hops.table(spark, cfg, "silver.quarantine").collect()}
    assert quarantined == {(False, "line_too_long", len(runaway)), (False, "invalid_utf8", len(latin1)),
                           (True, "malformed_json", len(salvaged[-1]))}
    silver = hops.table(spark, cfg, "silver.listen_events")
    assert sorted(r.item_in_session for r in silver.collect()) == [1, 3, 5, *range(100, 100 + len(salvaged) - 1)]
    listens = next(r for r in hops.reconciliation(spark, cfg) if r["stream"] == "listen_events")
    assert listens["bronze"] == 5 + len(salvaged) and listens["bronze_ok"], listens

    again = bronze_events.run(spark, cfg)      # a damaged object is recorded once, never read again
    assert again.new_objects == []
