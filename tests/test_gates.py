"""A failing expectation stops the next hop: exit code, message naming table and expectation,
the result saved to the object store, and the work left queued for the next run."""

from __future__ import annotations

import pytest

from instance import fresh_bucket, instance_env
from corpus import BAD_LINES, GOOD_LINES
from medley import config, pipeline, state, storage
from medley.errors import ExitCode, GateFailed

pytestmark = pytest.mark.services


@pytest.fixture
def strict_cfg(live_cfg):
    """Same services, own bucket, and no quarantine allowed at all."""
    fresh_bucket("medley-gate-test")
    return config.load({**instance_env(), "MEDLEY_STORAGE__BUCKET": "medley-gate-test",
                        "MEDLEY_QUALITY__QUARANTINE_MAX_RATE": "0"})


def test_failed_silver_gate_stops_gold(strict_cfg, spark, tmp_path):
    (tmp_path / "listen_events").write_text("\n".join([GOOD_LINES[1][1], BAD_LINES[2][1]]) + "\n")
    with pytest.raises(GateFailed) as failed:
        pipeline.run(strict_cfg, tmp_path)
    message = str(failed.value)
    assert "silver.quarantine" in message and "expect_table_row_count_to_be_between" in message
    assert failed.value.exit_code == ExitCode.GATE_FAILED
    # gold never ran, and silver's dates are still queued: the next run redoes them
    assert not storage.list_keys(strict_cfg, f"{strict_cfg.get('storage.gold_prefix')}/")
    assert state.pending(strict_cfg, "gold") == []
    assert state.load(strict_cfg)["silver_watermark"] is None
    results = storage.list_keys(strict_cfg, f"{strict_cfg.get('storage.quality_prefix')}/runs/")
    assert any(k.endswith("silver/quarantine.json") for k in results)
