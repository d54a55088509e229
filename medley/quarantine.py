"""`medley quarantine`: what silver quarantined and why, and a replay once a rule has been fixed.

The counts and samples come from silver.quarantine. A replay reads the quarantined lines again
from bronze with the current silver rules; when some now parse (or break another rule), the
silver hop runs again for their landing dates. Silver replaces those landing dates (quarantine)
and their event dates (the silver tables, de-duplicated), so a line moves from quarantine to
silver exactly once, `bronze = silver + quarantined + duplicates` keeps holding, and a second
replay finds nothing to do and writes nothing. Gold and Druid take the event dates on the next
`medley run` (they are queued for gold like any silver run's).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from functools import reduce

from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from medley import hops, lock
from medley.config import Config
from medley.console import say, table
from medley.errors import ExitCode
from spark.silver.run import parse_all, to_quarantine

QUARANTINE = "silver.quarantine"
LINE_KEY = ["source_object", "line_number"]
SAMPLE_CHARS = 160          # a sample line is cut here: a quarantined line may be megabytes long
GATE_REASONS = 3            # reasons a failed quarantine gate names


def _cut(line: str) -> str:
    """A sample line on one line of text: cut to SAMPLE_CHARS, quoted and escaped (JSON, ASCII),
    so no CR, LF or Unicode line separator of the raw line can split an error line."""
    return json.dumps(line[:SAMPLE_CHARS] + ("..." if len(line) > SAMPLE_CHARS else ""))


def reason_counts(quarantine: DataFrame) -> DataFrame:
    """Quarantined lines -> one row per reason: its line count and its first line (by object and
    line number; cut to SAMPLE_CHARS + 1 characters, enough to tell it was longer), most frequent
    reason first."""
    first_line = F.min_by(F.substring("raw_record", 1, SAMPLE_CHARS + 1), F.struct(*LINE_KEY))
    return (quarantine.groupBy("reason")
            .agg(F.count(F.lit(1)).alias("lines"), first_line.alias("example"))
            .select("reason", "lines", "example")
            .orderBy(F.desc("lines"), F.asc("reason")))


def gate_explanation(quarantine: DataFrame) -> str:
    """One line for a failed quarantine gate: the top reasons with their counts, and one example
    line of the first, e.g. `top reasons: malformed_json 12, wrong_type:userId 3; e.g.
    malformed_json: "{\\"ts\\": 15..." (all reasons and samples: medley quarantine)`."""
    rows = reason_counts(quarantine).limit(GATE_REASONS + 1).collect()
    if not rows:
        return ""
    top = ", ".join(f"{r['reason']} {r['lines']}" for r in rows[:GATE_REASONS])
    more = " and more" if len(rows) > GATE_REASONS else ""
    return (f"top reasons: {top}{more}; e.g. {rows[0]['reason']}: {_cut(rows[0]['example'])} "
            "(all reasons and samples: medley quarantine)")


def samples(quarantine: DataFrame, per_reason: int) -> DataFrame:
    """The first `per_reason` lines of each reason (by object and line number), cut to SAMPLE_CHARS + 1."""
    in_line_order = Window.partitionBy("reason").orderBy(*LINE_KEY)
    return (quarantine
            .select("reason", "stream", *LINE_KEY, F.substring("raw_record", 1, SAMPLE_CHARS + 1).alias("line"),
                    F.row_number().over(in_line_order).alias("rank"))
            .where(F.col("rank") <= per_reason)
            .select("reason", "stream", *LINE_KEY, "line"))


def read_again(quarantine: DataFrame, bronze: DataFrame) -> DataFrame:
    """The quarantined lines read again from bronze by the current silver rules -> one row per line
    whose outcome changed: (stream, event_date = landing date, source_object, line_number, reason,
    current_reason), current_reason null when the line now parses."""
    quarantined = quarantine.select(*LINE_KEY, "stream", "event_date", "reason")
    lines = bronze.join(quarantined.select(*LINE_KEY), on=LINE_KEY, how="left_semi")
    still_bad = [to_quarantine(parsed).select(*LINE_KEY, F.col("reason").alias("current_reason"))
                 for parsed in parse_all(lines).values()]
    current = reduce(DataFrame.unionByName, still_bad)
    return (quarantined.join(current, on=LINE_KEY, how="left")
            .where(F.col("current_reason").isNull() | (F.col("current_reason") != F.col("reason")))
            .select("stream", "event_date", *LINE_KEY, "reason", "current_reason"))


@dataclass
class Replay:
    landing_dates: list[str] = field(default_factory=list)
    now_valid: dict[str, int] = field(default_factory=dict)        # old reason -> lines now in silver
    new_reason: dict[tuple[str, str], int] = field(default_factory=dict)   # (old, new) -> lines


def replay(spark: SparkSession, cfg: Config, report) -> Replay:
    """Run the silver hop again for the landing dates whose quarantined lines the current rules
    read differently; nothing is written when there are none. Holds the pipeline lock, like a run."""
    with lock.exclusive(cfg, f"medley quarantine --replay {report.run_id}", say):
        return _replay(spark, cfg, report)


def _replay(spark: SparkSession, cfg: Config, report) -> Replay:
    quarantine, bronze = hops.table(spark, cfg, QUARANTINE), hops.table(spark, cfg, "bronze.events")
    if quarantine is None or bronze is None:
        return Replay()
    landing_dates = [r[0] for r in quarantine.select("event_date").distinct().collect()]
    bronze = bronze.where(F.col("event_date").isin(landing_dates))     # read only their partitions
    changed = read_again(quarantine, bronze).groupBy("event_date", "reason", "current_reason").count().collect()
    result = Replay(landing_dates=sorted({str(r["event_date"]) for r in changed}))
    for r in changed:
        if r["current_reason"] is None:
            result.now_valid[r["reason"]] = result.now_valid.get(r["reason"], 0) + r["count"]
        else:
            key = (r["reason"], r["current_reason"])
            result.new_reason[key] = result.new_reason.get(key, 0) + r["count"]
    if result.landing_dates:
        hops.silver(spark, cfg, report, rebuild_landing_dates=result.landing_dates)
    return result


def run(cfg: Config, args) -> int:
    """`medley quarantine [--reason R] [--samples N] [--replay]`."""
    from medley.spark import session

    spark = session(cfg, "medley-quarantine")
    if args.replay:
        report = hops.RunReport(run_id=time.strftime("%Y%m%dT%H%M%S") + "-replay")
        result = replay(spark, cfg, report)
        if not result.landing_dates:
            say("replay: the current rules read every quarantined line as before; nothing to replay")
        else:
            say(f"replay: silver rebuilt for landing dates {', '.join(result.landing_dates)}")
            say(table(["reason", "now", "lines"],
                      [(old, "in silver", n) for old, n in sorted(result.now_valid.items())]
                      + [(old, new, n) for (old, new), n in sorted(result.new_reason.items())]))
            say("gold and Druid take these dates on the next `medley run`")
    quarantine = hops.table(spark, cfg, QUARANTINE)
    if quarantine is None:
        say("silver.quarantine does not exist yet: no silver run has written it")
        return ExitCode.OK
    if args.reason:
        quarantine = quarantine.where(F.col("reason") == args.reason)
    by_stream = quarantine.groupBy("reason", "stream").count().orderBy(F.desc("count"), "reason", "stream")
    say(table(["reason", "stream", "lines"], [tuple(r) for r in by_stream.collect()]))
    if args.samples:
        say(table(["reason", "object:line", "line"],
                  [(r["reason"], f"{r['source_object']}:{r['line_number']}", _cut(r["line"]))
                   for r in samples(quarantine, args.samples).orderBy("reason", *LINE_KEY).collect()]))
    return ExitCode.OK
