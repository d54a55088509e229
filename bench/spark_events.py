"""Where a job's Spark time went, from the event logs `spark.event_log_dir` keeps (one file per
Spark application, i.e. per hop process or `medley run`).

    MEDLEY_SPARK__EVENT_LOG_DIR=/tmp/events python -m medley run ...
    python bench/spark_events.py /tmp/events [--top 15] [--stages 1.0]

Per application: wall time, time inside Spark jobs, then the SQL executions (a Delta commit, a
gate's metric query, a count) grouped by description with their count, seconds, bytes read and
written, and the CPU and GC seconds of their tasks, longest first. On a loaded machine a task's
CPU seconds are the figure to compare: its wall time includes waiting for a core. Time outside SQL executions is the driver's own (Python, py4j, JVM start).
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path


def read_events(path: Path):
    with path.open() as f:
        for line in f:
            yield json.loads(line)


def summarize(path: Path) -> dict:
    """One event log -> {app, wall_s, sql_s, cpu_s, groups: {description: [count, s, bytes_read,
    bytes_written, jobs, tasks, seconds inside jobs, task CPU s, task GC s]}}."""
    app, start, end = path.name, None, None
    sql_start: dict[int, tuple[str, int]] = {}
    stage_sql: dict[int, int] = {}       # stage id -> SQL execution id
    read_bytes: dict[int, int] = defaultdict(int)
    written_bytes: dict[int, int] = defaultdict(int)
    jobs: dict[int, int] = defaultdict(int)
    tasks: dict[int, int] = defaultdict(int)
    job_seconds: dict[int, float] = defaultdict(float)
    job_started: dict[int, tuple[int, int]] = {}   # job id -> (SQL execution id, start ms)
    cpu_s: dict[int, float] = defaultdict(float)
    gc_s: dict[int, float] = defaultdict(float)
    groups: dict[str, list] = defaultdict(lambda: [0, 0.0, 0, 0, 0, 0, 0.0, 0.0, 0.0])
    sql_s = total_cpu_s = 0.0
    for e in read_events(path):
        kind = e["Event"]
        if kind == "SparkListenerApplicationStart":
            app, start = e["App Name"], e["Timestamp"]
        elif kind == "SparkListenerApplicationEnd":
            end = e["Timestamp"]
        elif kind.endswith("SparkListenerSQLExecutionStart"):
            sql_start[e["executionId"]] = (e.get("description") or e.get("details", "")[:80], e["time"])
        elif kind == "SparkListenerJobStart":
            execution = e.get("Properties", {}).get("spark.sql.execution.id")
            if execution is not None:
                jobs[int(execution)] += 1
                job_started[e["Job ID"]] = (int(execution), e["Submission Time"])
                for stage in e["Stage IDs"]:
                    stage_sql[stage] = int(execution)
        elif kind == "SparkListenerJobEnd" and e["Job ID"] in job_started:
            execution, began = job_started.pop(e["Job ID"])
            job_seconds[execution] += (e["Completion Time"] - began) / 1000
        elif kind == "SparkListenerStageCompleted":
            info = e["Stage Info"]
            execution = stage_sql.get(info["Stage ID"])
            if execution is not None:
                tasks[execution] += info["Number of Tasks"]
            for acc in info.get("Accumulables", []):
                if execution is None:
                    break
                if acc.get("Name") == "internal.metrics.input.bytesRead":
                    read_bytes[execution] += int(acc["Value"])
                elif acc.get("Name") == "internal.metrics.output.bytesWritten":
                    written_bytes[execution] += int(acc["Value"])
                elif acc.get("Name") == "internal.metrics.executorCpuTime":
                    cpu_s[execution] += int(acc["Value"]) / 1e9
                    total_cpu_s += int(acc["Value"]) / 1e9
                elif acc.get("Name") == "internal.metrics.jvmGCTime":
                    gc_s[execution] += int(acc["Value"]) / 1000
        elif kind.endswith("SparkListenerSQLExecutionEnd") and e["executionId"] in sql_start:
            description, began = sql_start.pop(e["executionId"])
            seconds = (e["time"] - began) / 1000
            group = groups[" ".join(description.split())[:90]]
            group[0] += 1
            group[1] += seconds
            group[2] += read_bytes.pop(e["executionId"], 0)
            group[3] += written_bytes.pop(e["executionId"], 0)
            group[4] += jobs.pop(e["executionId"], 0)
            group[5] += tasks.pop(e["executionId"], 0)
            group[6] += job_seconds.pop(e["executionId"], 0.0)
            group[7] += cpu_s.pop(e["executionId"], 0.0)
            group[8] += gc_s.pop(e["executionId"], 0.0)
            sql_s += seconds
    wall_s = ((end or 0) - (start or 0)) / 1000 if start and end else float("nan")
    return {"app": app, "wall_s": wall_s, "sql_s": sql_s, "cpu_s": total_cpu_s, "groups": groups}


def stages(path: Path, min_cpu_s: float) -> list[tuple]:
    """The application's stages whose tasks used at least min_cpu_s of CPU, in submission order:
    (seconds after the application started, tasks, task run s, task CPU s, GC s, what), `what`
    being the first line of the stage's first RDD (a cached relation is named by its plan)."""
    out, start = [], None
    for e in read_events(path):
        if e["Event"] == "SparkListenerApplicationStart":
            start = e["Timestamp"]
        elif e["Event"] == "SparkListenerStageCompleted":
            info = e["Stage Info"]
            acc = {a.get("Name"): a.get("Value") for a in info.get("Accumulables", [])}
            cpu = int(acc.get("internal.metrics.executorCpuTime", 0)) / 1e9
            if cpu >= min_cpu_s:
                rdds = info.get("RDD Info") or [{"Name": info["Stage Name"]}]
                out.append(((info["Submission Time"] - (start or 0)) / 1000, info["Number of Tasks"],
                            int(acc.get("internal.metrics.executorRunTime", 0)) / 1000, cpu,
                            int(acc.get("internal.metrics.jvmGCTime", 0)) / 1000,
                            rdds[0]["Name"].splitlines()[0][:100]))
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("dir", type=Path, help="the spark.event_log_dir of the runs")
    p.add_argument("--top", type=int, default=15, help="SQL descriptions shown per application")
    p.add_argument("--stages", type=float, default=None, metavar="CPU_S",
                   help="also list the stages whose tasks used at least CPU_S seconds of CPU")
    args = p.parse_args()
    for path in sorted(f for f in args.dir.iterdir() if f.is_file()):
        s = summarize(path)
        print(f"\n{s['app']} ({path.name}): wall {s['wall_s']:.1f} s, in SQL executions {s['sql_s']:.1f} s, "
              f"task CPU {s['cpu_s']:.1f} s")
        print(f"  {'count':>5} {'seconds':>8} {'in jobs':>8} {'CPU s':>7} {'GC s':>6} {'jobs':>5} {'tasks':>6} "
              f"{'MB read':>8} {'MB written':>10}  description")
        ranked = sorted(s["groups"].items(), key=lambda kv: -kv[1][1])
        for description, (count, seconds, read, written, n_jobs, n_tasks, in_jobs, cpu, gc) in ranked[:args.top]:
            print(f"  {count:>5} {seconds:>8.1f} {in_jobs:>8.1f} {cpu:>7.1f} {gc:>6.1f} {n_jobs:>5} {n_tasks:>6} "
                  f"{read / 1e6:>8.1f} {written / 1e6:>10.1f}  {description}")
        if args.stages is not None:
            print(f"  {'at s':>7} {'tasks':>5} {'run s':>7} {'CPU s':>7} {'GC s':>6}  first RDD")
            for at, n_tasks, run, cpu, gc, what in stages(path, args.stages):
                print(f"  {at:>7.1f} {n_tasks:>5} {run:>7.1f} {cpu:>7.1f} {gc:>6.1f}  {what}")


if __name__ == "__main__":
    main()
