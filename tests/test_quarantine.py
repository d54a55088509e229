"""Quarantine people can act on: a tripped silver gate names its top reasons with counts and an
example line, in a message the Airflow alert still parses; `medley quarantine --replay` moves the
lines a fixed rule now accepts from quarantine to silver exactly once."""

from __future__ import annotations

import json

import pytest
from pyspark.sql import functions as F

from corpus import GOOD_LISTEN
from instance import fresh_bucket, instance_env
from medley import config, hops, orchestration, pipeline, quarantine, state, storage
from medley.errors import GateFailed
from medley.quality import GateResult, require_pass
from spark.silver import listen_events
from spark.silver import run as silver_run


def listen(item: int, **changes) -> str:
    """A valid listen (2025-11-02, the corpus' day), one second and one item per `item`."""
    return json.dumps({**GOOD_LISTEN, "itemInSession": item, "ts": GOOD_LISTEN["ts"] + 1000 * item, **changes})


def bucket_cfg(bucket: str, max_rate: str) -> config.Config:
    """The test instance on its own emptied bucket, with this quarantine rate limit."""
    fresh_bucket(bucket)
    return config.load({**instance_env(), "MEDLEY_STORAGE__BUCKET": bucket,
                        "MEDLEY_QUALITY__QUARANTINE_MAX_RATE": max_rate})


# --- the gate message, without services ----------------------------------------------------------

def test_gate_explanation_gives_top_reasons_and_one_cut_example_on_one_line(spark):
    runaway = "\u2028\r" + "x" * 10_000     # line breaks str.splitlines() honours, then megabytes' worth
    rows = ([("wrong_type:userId", "o1", 9, "second")] * 2 + [("wrong_type:userId", "o1", 3, runaway)]
            + [("malformed_json", "o2", 1, "{")] + [("ts_in_future", "o3", 1, "{}")] + [("negative_id", "o4", 1, "{}")])
    df = spark.createDataFrame(rows, "reason string, source_object string, line_number long, raw_record string")
    explanation = quarantine.gate_explanation(df)
    assert explanation.startswith("top reasons: wrong_type:userId 3, malformed_json 1, negative_id 1 and more; "
                                  'e.g. wrong_type:userId: "\\u2028\\rxxx')
    assert len(explanation.splitlines()) == 1 and len(explanation) < 400 and '..."' in explanation

    result = GateResult("silver.quarantine", False, 1, ["expect_table_row_count_to_be_between() unexpected=6"],
                        "s3://b/quality/runs/r/silver/quarantine.json", explanation)
    with pytest.raises(GateFailed) as failed:
        require_pass(result)
    line = f"medley.jobs silver: error: {failed.value}"
    summary = orchestration.failure_summary("medley_hourly", "silver", "manual__x", RuntimeError(line))
    assert (summary["table"], summary["check"]) == ("silver.quarantine",
                                                    "expect_table_row_count_to_be_between() unexpected=6")
    assert summary["error"] == line and "top reasons: wrong_type:userId 3" in summary["text"]


# --- real runs: MinIO, local Spark, Delta, Great Expectations ------------------------------------

def too_strict_listens(bronze):
    """The listen parser with a broken rule: free users' listens rejected as unknown_level."""
    parsed = listen_events.parse_viirya(bronze)
    wrongly_rejected = F.when(F.col("level") == "free", F.lit("unknown_level"))
    return parsed.withColumn("quarantine_reason", F.coalesce(F.col("quarantine_reason"), wrongly_rejected))


def delta_versions(spark, cfg, tables) -> dict[str, int]:
    from delta.tables import DeltaTable

    return {t: DeltaTable.forPath(spark, storage.table_uri(cfg, t)).history(1).first()["version"] for t in tables}


@pytest.mark.services
def test_a_tripped_gate_names_the_broken_rule_and_replay_after_the_fix_moves_its_lines_once(
        object_store, spark, tmp_path, monkeypatch):
    """A rule breaks: free users' listens are quarantined, and the silver gate trips naming that
    reason first. The rule is fixed: a replay moves exactly those lines to silver (a free listen
    delivered twice becomes a duplicate), queues their date for gold, and a second replay writes
    nothing."""
    strict = bucket_cfg("medley-quarantine-replay", "0")
    lines = [listen(i, level="free" if i % 2 else "paid") for i in range(40)]
    lines += [lines[1], lines[2], "not json at all"]        # a free and a paid listen delivered twice
    (tmp_path / "listen_events").write_text("\n".join(lines) + "\n")
    monkeypatch.setitem(silver_run.VIIRYA_PARSERS, "listen_events", ("listen_events", too_strict_listens))
    with pytest.raises(GateFailed) as failed:
        pipeline.run(strict, tmp_path, stop_after="silver")
    monkeypatch.undo()                      # the rule is fixed

    message = str(failed.value)
    assert message.startswith("gate failed for silver.quarantine: expect_table_row_count_to_be_between() "
                              "unexpected=22 (result: s3://medley-quarantine-replay/")
    assert (f"top reasons: unknown_level 21, malformed_json 1; e.g. unknown_level: {json.dumps(lines[1][:quarantine.SAMPLE_CHARS] + '...')} "
            "(all reasons and samples: medley quarantine)") in message
    gate = orchestration.GATE_ERROR.search(message)
    assert (gate["table"], gate["check"]) == ("silver.quarantine", "expect_table_row_count_to_be_between() unexpected=22")

    cfg = config.load({**strict.env, "MEDLEY_QUALITY__QUARANTINE_MAX_RATE": "0.05"})

    def counts(name: str, by: str) -> dict:
        return {r[0]: r[1] for r in hops.table(spark, cfg, name).groupBy(by).count().collect()}

    assert counts("silver.quarantine", "reason") == {"unknown_level": 21, "malformed_json": 1}
    assert counts("silver.listen_events", "level") == {"paid": 20} and state.pending(cfg, "gold") == []

    replayed = quarantine.replay(spark, cfg, hops.RunReport(run_id="replay-1"))
    assert replayed.landing_dates == ["2025-11-02"] and replayed.now_valid == {"unknown_level": 21}
    assert replayed.new_reason == {}
    assert counts("silver.quarantine", "reason") == {"malformed_json": 1}
    assert counts("silver.listen_events", "level") == {"free": 20, "paid": 20}
    assert sum(counts("silver.duplicate_events", "stream").values()) == 2
    listens = next(r for r in hops.reconciliation(spark, cfg) if r["stream"] == "listen_events")
    assert (listens["bronze"], listens["silver"], listens["quarantined"], listens["duplicates"]) == (43, 40, 1, 2)
    assert listens["bronze_ok"]
    assert state.pending(cfg, "gold") == ["2025-11-02"]

    tables = ["silver.quarantine", "silver.listen_events", "silver.duplicate_events"]
    versions = delta_versions(spark, cfg, tables)
    again = quarantine.replay(spark, cfg, hops.RunReport(run_id="replay-2"))
    assert again.landing_dates == [] and again.now_valid == {} and again.new_reason == {}
    assert delta_versions(spark, cfg, tables) == versions
