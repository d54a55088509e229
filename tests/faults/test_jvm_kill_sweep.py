"""The Spark JVM and its run killed (SIGKILL) at 11 points spread over bronze, silver, gold, the
gates and the Druid load, then rerun: gold and Druid end row-for-row identical to one clean run
over the same input, with no duplicates.

One run per point, each also the recovery of the crash before it: batch k lands, the run crashes at
point k (the test proves it died there, and what the Delta log and the hand-over state show was
and was not committed), batch k+1 lands, and so on; a clean run ends it. Slow (~ a run per point):
marked `slow`, so `medley test` runs it only with MEDLEY_TEST_SLOW=1.
"""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timezone
from pathlib import Path

import pytest

from faultlib import delta_versions, druid_rows, druid_total, generate, killed_at, rows, start_run
from instance import fresh_bucket
from medley import druid, hops, land, pipeline, state
from medley.contracts import all_contracts

pytestmark = [pytest.mark.services, pytest.mark.slow, pytest.mark.timeout(5400)]

# The Druid datasources the hop serves from gold (data_health* measure each run, so they differ
# between the crashed runs and the reference by design).
SERVED = tuple(sorted(p.stem for p in druid.SPECS_DIR.glob("*.json") if not p.stem.startswith("data_health")))


def versions(spark, cfg, tables: set[str]) -> dict[str, int]:
    """Commits per table so far (0: none)."""
    return {t: len(delta_versions(spark, cfg, t)) for t in tables}


def grew(before: dict, after: dict) -> set[str]:
    return {t for t in after if after[t] > before[t]}


# point -> what the killed run must have committed (tables with a new Delta commit), and what it
# must not have; each `state` check reads the hand-over state left behind
POINTS = [
    # bronze committed its objects, its gate never ran
    ("bronze:written", {"bronze.events"}, {"silver.quarantine"}),
    ("gate:bronze/events", {"bronze.events"}, {"silver.quarantine"}),
    # between two Delta commits of silver: quarantine in, no table yet
    ("silver:quarantine", {"silver.quarantine"}, {"silver.listen_events"}),
    # between two silver tables
    ("silver:listen_events", {"silver.listen_events"}, {"silver.page_view_events"}),
    # mid-gates: every silver commit in, the watermark not moved
    ("gate:silver/listen_events", {"silver.page_view_events"}, {"gold.fact_listen"}),
    # gold queued, the silver watermark not yet moved
    ("silver:queued", {"silver.page_view_events"}, {"gold.fact_listen"}),
    # dimensions in, no fact yet; then between two facts
    ("gold:dim_user", {"gold.dim_user"}, {"gold.fact_listen"}),
    ("gold:fact_listen", {"gold.fact_listen"}, {"gold.fact_page_view"}),
    # mid gold gates: every gold commit in, not handed to Druid
    ("gate:gold/fact_listen", {"gold.agg_active_users_monthly"}, set()),
    # a Druid task submitted, never waited for: it runs on while the run is dead
    ("druid:submitted:agg_listens_hourly", set(), set()),
    # one datasource loaded; the hop submitted every task before its first wait, so the others
    # may have finished or not: the recovery replaces their intervals either way
    ("druid:loaded:agg_listens_hourly", set(), set()),
]
DAYS = [f"2026-10-{12 + k:02d}" for k in range(len(POINTS))]
END = f"2026-10-{12 + len(POINTS):02d}T00:00:00"        # the generator's end is exclusive


def split_by_day(generated: Path, out: Path) -> list[dict[str, int]]:
    """One simulator run's files, split into out/<day>/ by the UTC day of each event; lines per
    stream file of each day, in DAYS' order. One run, as one EventSim landing day by day: its
    session ids are unique across the days (separate simulator runs would each count from 1, and
    gold keys sessions by dialect and session id)."""
    lines: dict[str, dict[str, list[str]]] = {day: {} for day in DAYS}
    for f in sorted(generated.iterdir()):
        for line in f.read_text().splitlines():
            ts = datetime.fromtimestamp(json.loads(line)["ts"] / 1000, timezone.utc)
            lines[ts.date().isoformat()].setdefault(f.name, []).append(line)
    for day, files in lines.items():
        (out / day).mkdir(parents=True)
        for name, day_lines in files.items():
            (out / day / name).write_text("".join(f"{line}\n" for line in day_lines))
    return [{name: len(files.get(name, [])) for name in (f.name for f in generated.iterdir())}
            for files in lines.values()]


def check_state(cfg, point: str, day: str, queued_before: dict) -> None:
    """The hand-over state the killed run left: nothing handed over past the crash."""
    s = state.load(cfg)
    gold, druid_q = s["pending"].get("gold", []), s["pending"].get("druid", [])
    if point.startswith(("bronze:", "gate:bronze", "silver:quarantine", "silver:listen", "gate:silver")):
        assert day not in gold and s["silver_watermark"] == queued_before["silver_watermark"], s
    elif point == "silver:queued":
        assert day in gold and s["silver_watermark"] == queued_before["silver_watermark"], s
    elif point.startswith(("gold:", "gate:gold")):
        assert day in gold and day not in druid_q, s
    else:
        assert gold == [] and day in druid_q, s


def test_the_jvm_killed_at_every_point_then_rerun_gives_the_clean_runs_gold_and_druid_rows(lake, spark, tmp_path):
    cfg = fresh_bucket("medley-fault-jvm-kill")
    scratch = tmp_path / "spark-scratch"
    generate(tmp_path / "generated", f"{DAYS[0]}T00:00:00", END, users=120, seed=20)
    batches = split_by_day(tmp_path / "generated", tmp_path / "input")
    for k, ((point, must, must_not), day) in enumerate(zip(POINTS, DAYS)):
        assert batches[k]["listen_events"], f"no listens generated for {day}: the point would see no new day"
        land.land_directory(cfg, tmp_path / "input" / day)
        before, state_before = versions(spark, cfg, must | must_not), state.load(cfg)
        log = tmp_path / f"crash-{k}.log"
        scratch.mkdir()
        with log.open("w") as out:
            proc = start_run(cfg, out, MEDLEY_CRASH_AT=point, MEDLEY_SPARK__LOCAL_DIR=str(scratch))
            proc.wait(timeout=1800)
        killed_at(log.read_text(), point, proc.returncode)
        shutil.rmtree(scratch)      # a killed JVM leaves its scratch dir behind (629 MB of jars)
        changed = grew(before, versions(spark, cfg, must | must_not))
        assert must <= changed and not (must_not & changed), (point, sorted(changed))
        check_state(cfg, point, day, state_before)
        if point == "druid:loaded:agg_listens_hourly":       # the killed run loaded it for the day
            assert druid_total(cfg, "agg_listens_hourly", "SUM(listen_count)", day) == batches[k]["listen_events"]

    report = pipeline.run(cfg, None, stop_after="druid")      # the recovery of the last crash
    assert state.load(cfg)["pending"] == {"gold": [], "druid": []}
    total = {s: sum(b[s] for b in batches) for s in batches[0]}
    for r in report.reconciliation:
        stream = r["stream"].split("+")[0]
        assert r["bronze_ok"] and r["gold_ok"] and r["duplicates"] == 0 and r["gold"] == total[stream], r
    for day, batch in zip(DAYS, batches):
        assert druid_total(cfg, "fact_listen", "COUNT(*)", day) == batch["listen_events"], day
    druid_after_crashes = {d: druid_rows(cfg, d, DAYS) for d in SERVED}

    # one clean run over the same input on a bucket of its own: the same gold rows, duplicates
    # counted; ingested over the same intervals, Druid serves the same rows as after the crashes
    reference = fresh_bucket("medley-fault-jvm-kill-reference")
    for day in DAYS:
        land.land_directory(reference, tmp_path / "input" / day)
    pipeline.run(reference, None, stop_after="druid")
    for c in all_contracts("gold"):
        assert rows(spark, cfg, c.table) == rows(spark, reference, c.table), c.table
    assert {d: druid_rows(cfg, d, DAYS) for d in SERVED} == druid_after_crashes
    assert hops.reconciliation(spark, reference) == hops.reconciliation(spark, cfg)
