"""`medley run --every 2m`: the pipeline as a loop, so a generated event is in Druid minutes later.

Each cycle is one `medley run` made of the same hops (medley/hops.py) under the same pipeline lock
(medley/lock.py), taken per cycle, so an Airflow run or a backfill can go between two cycles and
never overlaps one:
- with --input DIR, the cycle first lands the lines appended to DIR's EventSim files since the last
  cycle (a tail, as Fluent Bit does: `tail_directory`); without it, whatever producers put in the
  landing zone;
- bronze takes the new landing objects, silver the landing dates they touched, gold and druid the
  event dates silver handed over: the hand-over state decides the intervals, as in every run;
- Superset is left out: a cycle changes data, not assets (`medley run` and the demo provision them).

Cycles start `every` seconds apart; one that overruns is followed by the next at once. One Spark
session serves every cycle (a JVM per cycle would add its start-up, about 20 s here, to each
event's latency: docs/freshness.md).

Failures: a MedleyError (failed gate 6, reconciliation 7, no disk 8, out of memory 10, a service
down 4) stops the loop with its exit code. Retrying would redo the same failing work every cycle
and bury the error; the hand-over state keeps that work queued, so after the fix the next start
redoes it. Only a busy lock (11: an Airflow run or a backfill holding it past lock.wait_seconds)
is reported and retried the next cycle.

Stopping: the first SIGINT/SIGTERM lets the running cycle finish (or ends the wait between
cycles), then exits 0; a second one interrupts the cycle at once (exit 130), which is safe too:
hops hand their work over only after their gates passed.

Output: the hops' step lines go to <state_dir>/logs/continuous.log; the terminal gets one line per
cycle with the landed lines and each hop's seconds.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import re
import signal
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from medley import hops, lock, storage
from medley.config import Config
from medley.console import say
from medley.errors import ExitCode, MedleyError

DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smh]?)$")
SECONDS_PER_UNIT = {"": 1, "s": 1, "m": 60, "h": 3600}
# the hops of a cycle, in pipeline order: every hop of `medley run` but superset (assets, not data)
CYCLE_HOPS = [name for name in hops.HOPS if name != "superset"]


def parse_every(text: str) -> float:
    """'2m' -> 120.0; also '90s', '1h', '45' (seconds). ValueError names the accepted forms."""
    m = DURATION.match(text.strip())
    if not m or float(m[1]) <= 0:
        raise ValueError(f"not a positive duration: {text!r} (e.g. 2m, 90s, 1h)")
    return float(m[1]) * SECONDS_PER_UNIT[m[2]]


# --- landing what producers appended --------------------------------------------------------------

def _offsets_file(cfg: Config, directory: Path) -> Path:
    digest = hashlib.sha256(str(directory.resolve()).encode()).hexdigest()[:16]
    return cfg.state_dir / "continuous" / f"offsets-{digest}.json"


def tail_directory(cfg: Config, directory: Path) -> tuple[int, int]:
    """Land the complete lines appended to each EventSim file of `directory` since the last call
    (a partial last line waits for its newline); returns (lines, objects).

    Offsets are kept per file in <state_dir>/continuous/ and saved only after the objects are in
    the store. Objects are named after their content digest, so a crash between the two lands the
    same bytes on the same keys again: bronze takes each object once, nothing is duplicated. A
    file shorter than its offset was replaced and is read from its start."""
    from medley import land, landing

    state_file = _offsets_file(cfg, directory)
    offsets = json.loads(state_file.read_text()) if state_file.exists() else {}
    lines_landed = objects = 0
    for path in sorted(p for p in directory.iterdir() if p.is_file()):
        size = path.stat().st_size
        start = offsets.get(path.name, 0)
        start = 0 if size < start else start
        if size == start:
            continue
        stream = land.stream_of(path)
        if stream is None:
            continue
        with path.open("rb") as f:
            f.seek(start)
            chunk = f.read(size - start)
        complete = chunk[:chunk.rfind(b"\n") + 1]
        if not complete:
            continue
        lines = [ln for ln in complete.decode("utf-8", errors="surrogateescape").splitlines() if ln.strip()]
        for hour, group in sorted(land.group_by_hour(lines).items()):
            body = ("\n".join(group) + "\n").encode("utf-8", errors="surrogateescape")
            name = "tail-" + hashlib.sha256(body).hexdigest()[:20]
            key = landing.object_key(cfg.get("storage.landing_prefix"), stream, hour, name)
            storage.put_bytes(cfg, key, gzip.compress(body, mtime=0), "application/gzip")
            objects += 1
        lines_landed += len(lines)
        offsets[path.name] = start + len(complete)
    state_file.parent.mkdir(parents=True, exist_ok=True)
    state_file.write_text(json.dumps(offsets, indent=1, sort_keys=True))
    return lines_landed, objects


# --- the loop ---------------------------------------------------------------------------------

@dataclass
class Cycle:
    number: int
    started: float                      # time.time() at the start
    seconds: float = 0.0
    landed_lines: int = 0
    landed_objects: int = 0
    steps: list[tuple[str, float]] = field(default_factory=list)
    error: str = ""

    def line(self, every_s: float) -> str:
        timings = " ".join(f"{name} {s:.0f}s" for name, s in self.steps)
        late = f", overran by {self.seconds - every_s:.0f}s" if self.seconds > every_s else ""
        return (f"cycle {self.number} {time.strftime('%H:%M:%S', time.gmtime(self.started))}Z: "
                f"landed {self.landed_lines} lines in {self.landed_objects} objects | {timings} | "
                f"{self.seconds:.0f}s{late}" + (f" | {self.error}" if self.error else ""))


class _StopSignal:
    """First SIGINT/SIGTERM: stop after the running cycle; second: KeyboardInterrupt at once."""

    def __init__(self):
        self.event = threading.Event()
        self.name = ""

    def __call__(self, signum, _frame):
        if self.event.is_set():
            raise KeyboardInterrupt
        self.name = signal.Signals(signum).name
        self.event.set()

    @contextlib.contextmanager
    def installed(self):
        previous = {s: signal.signal(s, self) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield self
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)


def run_cycle(spark, cfg: Config, number: int, input_dir: Path | None, last_hop: str, log) -> Cycle:
    """One cycle: land what was appended, then the hops up to last_hop, under the pipeline lock."""
    cycle = Cycle(number, time.time())
    start = time.monotonic()
    report = hops.RunReport(run_id=time.strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6])
    with contextlib.redirect_stdout(log):
        say(f"=== cycle {number} ({report.run_id})")
        if input_dir is not None:
            with hops.Step(cfg, report, "land") as t:
                cycle.landed_lines, cycle.landed_objects = tail_directory(cfg, input_dir)
                t.note = f"{cycle.landed_lines} lines in {cycle.landed_objects} objects"
        try:
            with lock.exclusive(cfg, f"medley run --every, cycle {number} {report.run_id}", say):
                for name in CYCLE_HOPS:
                    hops.HOPS[name](spark, cfg, report)
                    if name == last_hop:
                        break
        finally:
            # a hop's Step lines: its own seconds, gates included (e.g. "silver gates" into silver)
            for step_name, seconds, _note in report.steps:
                hop = step_name.split()[0]
                if cycle.steps and cycle.steps[-1][0] == hop:
                    cycle.steps[-1] = (hop, cycle.steps[-1][1] + seconds)
                else:
                    cycle.steps.append((hop, seconds))
            cycle.seconds = time.monotonic() - start
    return cycle


def run_every(cfg: Config, every_s: float, input_dir: Path | None = None, stop_after: str | None = None,
              cycles: int | None = None, on_cycle: Callable[[Cycle], None] | None = None) -> int:
    """Cycles `every_s` apart until stopped (a signal, `cycles` done, or an error); the exit code."""
    from medley.spark import session

    last_hop = "reconcile" if stop_after == "gold" else (stop_after or CYCLE_HOPS[-1])
    log_path = cfg.state_dir / "logs" / "continuous.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    storage.ensure_bucket(cfg)
    stop = _StopSignal()
    say(f"medley run --every {every_s:.0f}s: hops up to {last_hop}"
        + (f", tailing {input_dir}" if input_dir else ", from the landing zone")
        + f"; each hop's steps in {log_path}; Ctrl-C stops after the running cycle")
    with stop.installed(), log_path.open("a") as log:
        started = time.monotonic()
        spark = session(cfg, "medley-every")
        say(f"spark session: {time.monotonic() - started:.1f}s (kept for every cycle)")
        number = 0
        while not stop.event.is_set() and (cycles is None or number < cycles):
            number += 1
            due = time.monotonic() + every_s
            try:
                cycle = run_cycle(spark, cfg, number, input_dir, last_hop, log)
            except lock.PipelineBusy as err:
                say(f"cycle {number}: skipped, {err.message} (retried next cycle)")
                cycle = None
            except MedleyError as err:
                say(f"cycle {number}: FAILED, exit {int(err.exit_code)}: {err}  (steps in {log_path}; "
                    "its work stays queued for the next run)")
                return int(err.exit_code)
            if cycle is not None:
                say(cycle.line(every_s))
                if on_cycle:
                    on_cycle(cycle)
            if cycles is not None and number >= cycles:
                break
            stop.event.wait(max(0.0, due - time.monotonic()))
        if stop.event.is_set():
            say(f"stopped after cycle {number} ({stop.name})")
    return int(ExitCode.OK)
