"""render_spec fills a template without services: replace semantics, S3 settings, no secrets."""

from __future__ import annotations

import json

import pytest

from medley import config, druid
from medley.errors import MedleyError

TEMPLATE = {"type": "index_parallel",
            "spec": {"dataSchema": {"dataSource": "fact_x", "granularitySpec": {"rollup": False}},
                     "ioConfig": {"type": "index_parallel"}}}


@pytest.fixture
def cfg(tmp_path):
    return config.load({"MEDLEY_PATHS__STATE_DIR": str(tmp_path), "MEDLEY_S3_ACCESS_KEY": "ak-test",
                        "MEDLEY_S3_SECRET_KEY": "sk-test"})


def test_fills_input_source_intervals_and_replace_flags(cfg):
    spec = druid.render_spec(cfg, TEMPLATE, ["lakehouse/gold/fact_x/part-0.parquet", "s3://other/k.parquet"],
                             ["2026-01-01/2026-01-02"])
    io = spec["spec"]["ioConfig"]
    bucket = cfg.get("storage.bucket")
    assert io["inputSource"]["uris"] == [f"s3://{bucket}/lakehouse/gold/fact_x/part-0.parquet",
                                         "s3://other/k.parquet"]
    assert io["inputSource"]["endpointConfig"] == {"url": cfg.get("storage.endpoint"),
                                                   "signingRegion": cfg.get("storage.region")}
    assert io["inputSource"]["clientConfig"]["enablePathStyleAccess"] is True
    assert io["inputFormat"] == {"type": "parquet"}
    assert io["appendToExisting"] is False and io["dropExisting"] is True
    assert spec["spec"]["dataSchema"]["granularitySpec"] == {"rollup": False,
                                                             "intervals": ["2026-01-01/2026-01-02"]}
    assert "ioConfig" in TEMPLATE["spec"] and "inputSource" not in TEMPLATE["spec"]["ioConfig"]


def test_credentials_come_from_druids_environment_not_the_spec(cfg):
    spec = druid.render_spec(cfg, TEMPLATE, ["k.parquet"], ["2026-01-01/2026-01-02"])
    props = spec["spec"]["ioConfig"]["inputSource"]["properties"]
    assert {p["type"] for p in props.values()} == {"environment"}
    # the keys this configuration really uses (from the environment given to config.load)
    assert (cfg.s3_access_key, cfg.s3_secret_key) == ("ak-test", "sk-test")
    assert cfg.s3_access_key not in json.dumps(spec) and cfg.s3_secret_key not in json.dumps(spec)


def test_no_objects_is_an_error(cfg):
    with pytest.raises(MedleyError, match="no objects"):
        druid.render_spec(cfg, TEMPLATE, [], ["2026-01-01/2026-01-02"])
