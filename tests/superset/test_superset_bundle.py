"""The import bundle built from superset/*.yml: layout, config-driven URI, stable uuids, clear errors."""

from __future__ import annotations

import io
import shutil
import zipfile

import pytest
import yaml

from medley import config
from medley import superset as assets_lib
from medley.errors import MedleyError


def test_bundle_has_export_layout_and_every_asset():
    cfg = config.load()
    with zipfile.ZipFile(io.BytesIO(assets_lib.bundle(cfg))) as zf:
        names = zf.namelist()
        meta = yaml.safe_load(zf.read("medley_assets/metadata.yaml"))
        chart = yaml.safe_load(zf.read("medley_assets/charts/listens_by_state.yaml"))
    assert meta["version"] == "1.0.0" and meta["type"] == "assets"
    assert {"medley_assets/databases/druid.yaml", "medley_assets/datasets/agg_listens_hourly.yaml",
            "medley_assets/charts/listens_per_hour.yaml"} <= set(names)
    assert chart["dataset_uuid"] == assets_lib.asset_uuid("dataset", "agg_listens_hourly")


def test_druid_uri_comes_from_config():
    cfg = config.load({"MEDLEY_SERVICES__DRUID__BROKER_PORT": "18082"})
    database = assets_lib.assets(cfg)["databases/druid.yaml"]
    assert database["sqlalchemy_uri"] == "druid://127.0.0.1:18082/druid/v2/sql/"


def test_uuids_are_stable_across_builds():
    cfg = config.load()
    first, second = assets_lib.assets(cfg), assets_lib.assets(cfg)
    for path in first:
        if path != "metadata.yaml":
            assert first[path]["uuid"] == second[path]["uuid"], path


def test_dataset_columns_and_time_axis():
    dataset = assets_lib.assets(config.load())["datasets/agg_listens_hourly.yaml"]
    types = {c["column_name"]: c["type"] for c in dataset["columns"]}
    assert types["__time"] == "TIMESTAMP" and types["listen_count"] == "BIGINT"
    assert [c["column_name"] for c in dataset["columns"] if c["is_dttm"]] == [dataset["main_dttm_col"]]


def test_chart_with_undefined_metric_is_rejected(tmp_path):
    shutil.copytree(assets_lib.ASSETS, tmp_path / "assets")
    chart = tmp_path / "assets" / "charts" / "listens_by_state.yml"
    spec = yaml.safe_load(chart.read_text())
    chart.write_text(yaml.safe_dump({**spec, "metrics": ["no_such_metric"]}))
    with pytest.raises(MedleyError, match="no_such_metric"):
        assets_lib.assets(config.load(), tmp_path / "assets")
