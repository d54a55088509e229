"""The Fluent Bit pipeline the chart ships writes exactly the landing layout of medley/landing.py."""

from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest

from medley import chart, landing
from medley.bootstrap import ensure
from medley.config import load


def sections(conf: str) -> list[tuple[str, dict]]:
    """Fluent Bit classic config -> [(SECTION, {key: value})]; keys lower-cased."""
    out: list[tuple[str, dict]] = []
    for line in conf.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            out.append((line.strip("[]").upper(), {}))
        else:
            key, _, value = line.partition(" ")
            out[-1][1][key.lower()] = value.strip()
    return out


@pytest.fixture(scope="module", params=chart.PROFILES)
def rendered(request, tmp_path_factory):
    helm = ensure(load(), "helm")
    umbrella = chart.offline_umbrella(helm, tmp_path_factory.mktemp("chart"))
    docs = chart.documents(chart.render(helm, umbrella, request.param))
    (cm,) = chart.find(docs, "ConfigMap", "medley-fluent-bit")
    medley_yaml = chart.find(docs, "ConfigMap", "medley-config")[0]["data"]["medley.yaml"]
    import yaml
    return cm["data"], yaml.safe_load(medley_yaml)["storage"]


def one(conf: str, section: str, name: str) -> dict:
    (found,) = [s for kind, s in sections(conf) if kind == section and s.get("name") == name]
    return found


def test_s3_output_writes_the_landing_layout(rendered):
    data, storage = rendered
    out = one(data["fluent-bit.conf"], "OUTPUT", "s3")
    assert out["s3_key_format"] == landing.fluent_bit_key_format(storage["landing_prefix"])
    assert out["match"] == landing.FLUENT_BIT_TAG_PREFIX + "*"
    assert out["s3_key_format_tag_delimiters"] == "."
    assert out["compression"] == landing.COMPRESSION
    assert out["use_put_object"] == "On"          # one PUT per object: readers never see partials
    assert out["log_key"] == "log"                # the raw EventSim line, one JSON object per line
    assert out["json_date_key"] == "false"
    assert out["bucket"] == storage["bucket"]
    assert out["endpoint"] == storage["endpoint"]


def test_tail_tags_every_stream_and_only_those(rendered):
    data, _ = rendered
    tail = one(data["fluent-bit.conf"], "INPUT", "tail")
    assert tail["tag"] == landing.FLUENT_BIT_TAG_PREFIX + "<stream>"
    regex = re.compile(tail["tag_regex"].replace("(?<", "(?P<"))
    for stream in landing.STREAMS:
        for name in (stream, f"{stream}.json"):
            assert regex.search(f"/var/lib/kubelet/pods/u/volumes/kubernetes.io~empty-dir/v/{name}")["stream"] == stream
    assert not regex.search("/var/lib/kubelet/pods/u/volumes/kubernetes.io~empty-dir/v/other_events")


def test_a_key_fluent_bit_writes_parses_back(rendered):
    """Expand the key format as Fluent Bit does ($TAG[1], strftime of the first record, $UUID)."""
    data, storage = rendered
    fmt = one(data["fluent-bit.conf"], "OUTPUT", "s3")["s3_key_format"]
    t = datetime(2026, 3, 1, 23, 59, tzinfo=timezone.utc)
    for stream in landing.STREAMS:
        tag = landing.FLUENT_BIT_TAG_PREFIX + stream
        key = t.strftime(fmt.replace("$TAG[1]", tag.split(".")[1]).replace("$UUID", "a1b2c3d4"))
        assert landing.parse_key(key) == {"stream": stream, "event_date": "2026-03-01", "event_hour": 23,
                                          "name": "fluent-bit-a1b2c3d4"}
        assert key.lstrip("/") == landing.object_key(storage["landing_prefix"], stream, t, "fluent-bit-a1b2c3d4")


def test_record_time_is_the_event_ts(rendered):
    data, _ = rendered
    tail = one(data["fluent-bit.conf"], "INPUT", "tail")
    parser = one(data["custom_parsers.conf"], "PARSER", tail["parser"])
    regex = re.compile(parser["regex"].replace("(?<", "(?P<"))
    line = '{"artist":"A","song":"S","duration":1.0,"ts":1538352117123,"sessionId":1}'
    m = regex.match(line)
    assert m["log"] == line and m["ts"] == "1538352117"
    assert (parser["time_key"], parser["time_format"], parser["time_keep"]) == ("ts", "%s", "Off")


def test_contract_check_can_fail(rendered):
    data, storage = rendered
    out = one(data["fluent-bit.conf"].replace("event_hour=%H", "hour=%H"), "OUTPUT", "s3")
    assert out["s3_key_format"] != landing.fluent_bit_key_format(storage["landing_prefix"])
