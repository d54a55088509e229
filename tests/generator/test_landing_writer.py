"""The generator's landing writer against a real MinIO (started by the session fixture)."""

from __future__ import annotations

import gzip
import json
from argparse import Namespace

import pytest

from medley import landing
from medley.generator import engine
from medley.generator.landing_writer import LandingWriter, fresh_spool
from medley.generator.options import resolve

pytestmark = pytest.mark.services


def land(cfg, end: str) -> LandingWriter:
    args = Namespace(config=None, start_time="2026-11-03T00:00:00", end_time=end, from_days=None, to_days=None,
                     nusers=3000, growth_rate=None, attrition_rate=None, userid=None, randomseed=99,
                     tag="landing-test", continuous=False, dialect="viirya")
    opts = resolve(args)
    writer = LandingWriter(cfg, opts.run_id())
    engine.to_spool(cfg, opts, fresh_spool(cfg.data_dir, opts.run_id()), writer.put)
    return writer


def test_restart_rewrites_the_same_objects(live_cfg):
    first = land(live_cfg, "2026-11-03T02:00:00")        # a run that stopped after two hours
    assert first.written + first.unchanged >= 4
    again = land(live_cfg, "2026-11-03T03:00:00")        # restarted with the same flags, running on
    assert again.unchanged == first.written + first.unchanged   # hours 0-1: identical bytes, no new objects
    assert again.written >= 2                                   # hour 2: new

    s3, bucket = again.s3, again.bucket
    keys = [o.object_name for o in s3.list_objects(bucket, prefix=landing.stream_prefix(again.prefix, "listen_events"),
                                                  recursive=True) if again.run_id in o.object_name]
    assert len(keys) == 3 == len(set(keys))
    for key in keys:
        parts = landing.parse_key(key)
        body = gzip.decompress(s3.get_object(bucket, key).read())
        rows = [json.loads(line) for line in body.splitlines()]
        assert rows and all(r["tag"] == "landing-test" for r in rows)
        hours = {(r["ts"] // 3_600_000) % 24 for r in rows}
        assert hours == {parts["event_hour"]} and parts["event_date"] == "2026-11-03"
