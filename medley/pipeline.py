"""`medley run`: land -> bronze -> silver -> gold -> reconcile -> Druid -> Superset, in one process.

Only the sequence lives here; each hop (its interval, gate, hand-over state and exit codes) is in
medley/hops.py, shared with the Kubernetes jobs (medley/jobs.py); the pipeline lock
(medley/lock.py) keeps a second run from overlapping this one.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path

from medley import hops, lock, storage
from medley.config import Config
from medley.console import say, table
from medley.hops import RunReport, Step

def run(cfg: Config, input_dir: Path | None = None, stop_after: str | None = None) -> RunReport:
    from medley import land
    from medley.spark import session

    report = RunReport(run_id=time.strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6])
    storage.ensure_bucket(cfg)
    if input_dir:
        with Step(cfg, report, "land") as t:
            landed = land.land_directory(cfg, input_dir)
            skipped = [f"{x.source_file} ({x.skipped})" for x in landed if x.skipped]
            t.note = (f"{sum(x.lines for x in landed)} lines in {sum(x.objects for x in landed)} objects"
                      + (f"; skipped: {', '.join(skipped)}" if skipped else ""))
    if stop_after == "land":
        return report
    with lock.exclusive(cfg, f"medley run {report.run_id}", say):
        with Step(cfg, report, "spark session"):
            spark = session(cfg, f"medley-{report.run_id}")
        last = "reconcile" if stop_after == "gold" else stop_after   # reconciliation checks what gold wrote
        for name, hop in hops.HOPS.items():
            hop(spark, cfg, report)
            if name == last:
                break
    return report


def summary(report: RunReport) -> str:
    parts = [table(["step", "seconds", "result"], [(n, f"{s:.1f}", note) for n, s, note in report.steps])]
    if report.reconciliation:
        parts.append(table(["stream", "bronze", "silver", "quarantined", "duplicates", "gold", "reconciles"],
                           [(r["stream"], r["bronze"], r["silver"], r["quarantined"], r["duplicates"],
                             r["gold"], "yes" if r["bronze_ok"] and r["gold_ok"] else "NO")
                            for r in report.reconciliation]))
    if report.gates:
        parts.append(table(["gate", "expectations", "result"],
                           [(g.table, g.evaluated, "passed" if g.success else "FAILED: " + "; ".join(g.failed))
                            for g in report.gates]))
    if report.druid_rows:
        parts.append(table(["druid datasource", "rows"], sorted(report.druid_rows.items())))
    return "\n\n".join(parts)
