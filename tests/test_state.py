"""The hop hand-over state in the object store: what each hop still has to rebuild."""

from __future__ import annotations

import pytest

from instance import fresh_bucket
from medley import state

pytestmark = pytest.mark.services


@pytest.fixture
def cfg(live_cfg):
    return fresh_bucket("medley-state-test")


def test_a_new_lakehouse_has_nothing_queued(cfg):
    assert state.load(cfg) == {"silver_watermark": None, "pending": {}}
    assert state.pending(cfg, "gold") == []


def test_dates_queue_once_and_in_order(cfg):
    state.add_pending(cfg, "gold", ["2026-11-02", "2026-11-01"])
    state.add_pending(cfg, "gold", ["2026-11-02", "2026-11-03"])
    assert state.pending(cfg, "gold") == ["2026-11-01", "2026-11-02", "2026-11-03"]
    assert state.pending(cfg, "druid") == []


def test_done_hands_the_dates_to_the_next_hop_and_keeps_the_rest(cfg):
    state.add_pending(cfg, "gold", ["2026-11-01", "2026-11-02"])
    state.done(cfg, "gold", ["2026-11-01"], hand_to="druid")
    assert state.pending(cfg, "gold") == ["2026-11-02"]
    assert state.pending(cfg, "druid") == ["2026-11-01"]
    state.done(cfg, "druid", ["2026-11-01"])
    assert state.pending(cfg, "druid") == [] and state.pending(cfg, "gold") == ["2026-11-02"]


def test_the_watermark_survives_other_changes(cfg):
    state.set_silver_watermark(cfg, "2026-11-02T10:00:00")
    state.add_pending(cfg, "gold", ["2026-11-02"])
    assert state.load(cfg)["silver_watermark"] == "2026-11-02T10:00:00"
