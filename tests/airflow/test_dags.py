"""The DAGs of airflow_dags/ and their runner (medley/orchestration.py).

- Every DAG file imports in the Airflow venv without errors and without top-level work: parsed
  with no network at all (a fresh network namespace: not even loopback), and no pyspark, Delta,
  Great Expectations or MinIO module loaded. Their structure is what docs/airflow.md says.
- On the live test instance, medley_hourly over two logical hours (dag.test() in the Airflow venv
  with the instance's Airflow environment and a bucket of the test's own) gives gold and Druid rows
  equal to the generated input; running the same hours again changes nothing; a failing gate fails
  silver without retry, leaves the later tasks unrun and the work queued, posts the alert, and a
  rerun after the fix completes.
- A run triggered over the REST API runs on the instance's scheduler, and its grid view in a real
  browser (Debian's chromium, medley/browser.py) shows every hop succeeded; the screenshot is the
  one in docs/airflow.md.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from instance import fresh_bucket, generate_hours
from medley import REPO_ROOT, browser, druid, hops, land, orchestration, pipeline, state, storage
from medley.bootstrap import airflow as airflow_build
from medley.contracts import all_contracts
from medley.errors import MedleyError
from medley.services import airflow

DAGS = REPO_ROOT / "airflow_dags"
HEAVY = ("pyspark", "py4j", "delta", "great_expectations", "minio")

# Run in the Airflow venv: parse the DAGs folder, describe every DAG as JSON.
INSPECT = r"""
import json, sys
from airflow.dag_processing.dagbag import DagBag

bag = DagBag(dag_folder=sys.argv[1])
dags = {}
for dag in bag.dags.values():
    dags[dag.dag_id] = {
        "schedule": str(dag.schedule), "catchup": dag.catchup, "start_date": dag.start_date.isoformat(),
        "max_active_runs": dag.max_active_runs, "max_active_tasks": dag.max_active_tasks,
        "tags": sorted(dag.tags), "doc_md": dag.doc_md or "",
        "tasks": {t.task_id: {"upstream": sorted(t.upstream_task_ids), "doc_md": t.doc_md or "",
                              "retries": t.retries, "backoff": t.retry_exponential_backoff,
                              "callbacks": len(t.on_failure_callback or []),
                              "outlets": sorted(a.uri for a in t.outlets)} for t in dag.tasks}}
loaded = sorted({m.split(".")[0] for m in sys.modules} & set(sys.argv[2].split(",")))
print("RESULT " + json.dumps({"errors": bag.import_errors, "dags": dags, "heavy": loaded}))
"""

# Run in the Airflow venv: dag.test() of one DAG for each logical date given; task states as JSON.
RUN = r"""
import json, sys
from datetime import datetime
from airflow.dag_processing.dagbag import DagBag

bag = DagBag(dag_folder=sys.argv[1])
assert not bag.import_errors, bag.import_errors
runs = []
for when in sys.argv[3:]:
    dr = bag.dags[sys.argv[2]].test(logical_date=datetime.fromisoformat(when))
    value = lambda s: getattr(s, "value", s)
    runs.append({"state": value(dr.state),
                 "tasks": {ti.task_id: [value(ti.state), ti.try_number] for ti in dr.get_task_instances()}})
print("RESULT " + json.dumps(runs))
"""


def in_airflow_venv(cfg, script: str, *args: str, extra: dict | None = None, prefix: tuple = (),
                    log: Path | None = None, timeout: int = 600):
    """Run `script` with the Airflow venv's python and the instance's Airflow environment; return
    the JSON it printed after RESULT."""
    python = airflow_build.artifact(cfg).parent / "python"
    env = {"PATH": os.environ["PATH"], "HOME": os.environ["HOME"], **airflow.environment(cfg), **(extra or {})}
    done = subprocess.run([*prefix, str(python), "-c", script, *args], env=env, cwd=REPO_ROOT, text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout)
    if log:
        log.write_text(done.stdout)
    results = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert done.returncode == 0 and results, done.stdout[-6000:]
    return json.loads(results[-1][len("RESULT "):])


# --- parsing: no services needed ----------------------------------------------------------------

@pytest.fixture(scope="module")
def parsed(test_cfg):
    # --net: a network namespace of its own, where nothing answers (not even 127.0.0.1), so a DAG
    # file that reaches for the metadata DB, a Variable, MinIO or Druid at parse time fails here.
    return in_airflow_venv(test_cfg, INSPECT, str(DAGS), ",".join(HEAVY),
                           prefix=("unshare", "--user", "--map-root-user", "--net", "--"))


def test_every_dag_imports_without_errors_or_top_level_work(parsed):
    assert parsed["errors"] == {}
    assert set(parsed["dags"]) == {"medley_hourly", "medley_maintenance"}
    assert parsed["heavy"] == [], f"imported at parse time: {parsed['heavy']}"


def test_hourly_dag_is_the_hops_in_order_with_gold_assets(parsed, test_cfg):
    dag = parsed["dags"]["medley_hourly"]
    assert (dag["schedule"], dag["catchup"], dag["max_active_runs"], dag["max_active_tasks"]) == \
        ("CronDataIntervalTimetable(expression='0 * * * *', timezone='UTC')", True, 1, 1)
    assert "What a logical hour processes" in dag["doc_md"] and "medley" in dag["tags"]
    assert datetime.fromisoformat(dag["start_date"]).tzinfo is not None
    order = ["bronze", "silver", "gold", "reconcile", "druid", "superset"]
    assert {t: spec["upstream"] for t, spec in dag["tasks"].items()} == \
        {t: order[i - 1:i] for i, t in enumerate(order)}
    for name, spec in dag["tasks"].items():
        assert spec["doc_md"] and spec["retries"] == 2 and spec["backoff"] == 2.0 and spec["callbacks"] == 1, name
    # one list of tables: the contracts' file names, as medley.contracts reads them
    gold = [c.name for c in all_contracts("gold")]
    assert orchestration.gold_tables() == gold
    bucket, prefix = test_cfg.get("storage.bucket"), test_cfg.get("storage.gold_prefix")
    assert dag["tasks"]["gold"]["outlets"] == [f"s3://{bucket}/{prefix}/{t}" for t in gold]
    assert not any(spec["outlets"] for t, spec in dag["tasks"].items() if t != "gold")


def test_maintenance_dag_runs_each_step_daily(parsed):
    dag = parsed["dags"]["medley_maintenance"]
    assert (dag["schedule"], dag["catchup"], dag["max_active_runs"], dag["max_active_tasks"]) == \
        ("@daily", False, 1, 1)
    assert {t: spec["upstream"] for t, spec in dag["tasks"].items()} == \
        {"optimize": [], "vacuum": ["optimize"], "druid_compaction": [], "expire_quality_results": []}
    assert all(spec["doc_md"] and spec["retries"] == 3 for spec in dag["tasks"].values())


def test_start_date_is_pinned_by_the_environment_or_the_current_hour():
    assert orchestration.start_date({"MEDLEY_HOURLY_START_DATE": "2026-11-20"}) == \
        datetime(2026, 11, 20, tzinfo=timezone.utc)
    assert orchestration.start_date({"MEDLEY_HOURLY_START_DATE": "2026-11-20T05:00:00+01:00"}).utcoffset() \
        is not None
    now = datetime(2026, 12, 3, 19, 42, 7, tzinfo=timezone.utc)
    assert orchestration.start_date({}, now) == datetime(2026, 12, 3, 19, tzinfo=timezone.utc)
    with pytest.raises(MedleyError, match=r"MEDLEY_HOURLY_START_DATE='yesterday' .* -> set it like"):
        orchestration.start_date({"MEDLEY_HOURLY_START_DATE": "yesterday"})


def test_a_failed_job_raises_its_own_error_line():
    """A real job process (the pipeline venv's python) that refuses its arguments: the error is
    the job's last line, with its exit code; its output went to the log line by line."""
    seen: list[str] = []
    with pytest.raises(orchestration.JobFailed) as failed:
        orchestration.run_job("medley.jobs", ["no-such-hop"], log=seen.append)
    assert failed.value.exit_code == 2
    assert "invalid choice: 'no-such-hop'" in str(failed.value) and str(failed.value) == seen[-1]


def test_stopping_the_task_stops_the_job(tmp_path):
    """Airflow stops a task with SIGTERM; the job (here a real long-running python -m http.server)
    is stopped with it instead of being left behind, and the task fails."""
    import signal
    import sys
    import time

    script = ("from medley import orchestration; "
              f"orchestration.run_job('http.server', ['0', '--bind', '127.0.0.1', '--directory', {str(tmp_path)!r}])")
    task = subprocess.Popen([sys.executable, "-c", script], cwd=REPO_ROOT, text=True, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
    assert "Serving HTTP" in next(line for line in task.stdout if "Serving HTTP" in line or "Error" in line)

    def jobs() -> list[str]:
        found = []
        for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
            try:
                text = cmdline.read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if "http.server" in text and str(tmp_path) in text and "orchestration" not in text:
                found.append(text)
        return found

    assert jobs()
    task.send_signal(signal.SIGTERM)
    assert task.wait(timeout=30) != 0 and "JobFailed" in task.stdout.read()
    deadline = time.monotonic() + 10
    while jobs() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not jobs()


def test_failure_summary_names_dag_hop_table_and_check():
    line = ("medley.jobs silver: error: gate failed for silver.quarantine: "
            "expect_table_row_count_to_be_between() unexpected=1 (result: s3://b/quality/runs/r/q.json) "
            "-> fix the input or the job, then rerun; the next hop did not run")
    summary = orchestration.failure_summary("medley_hourly", "silver", "manual__x", RuntimeError(line))
    assert (summary["table"], summary["check"]) == ("silver.quarantine", "expect_table_row_count_to_be_between() unexpected=1")
    assert summary["text"].startswith("medley: medley_hourly silver failed (manual__x) table silver.quarantine "
                                      "check expect_table_row_count_to_be_between() unexpected=1: medley.jobs silver")


# --- real runs on the live test instance ----------------------------------------------------------

def split_at(generated: Path, out: Path, hour: int) -> list[dict[str, int]]:
    """The generated files as two landings: the event hours before `hour`, then the rest (as if
    the second had arrived after the first run); lines per stream of each."""
    counts: list[dict[str, int]] = [{}, {}]
    for f in generated.iterdir():
        parts: list[list[str]] = [[], []]
        for when, lines in land.group_by_hour(f.read_text().splitlines()).items():
            parts[when.hour >= hour] += lines
        for i, lines in enumerate(parts):
            (out / str(i)).mkdir(parents=True, exist_ok=True)
            (out / str(i) / f.name).write_text("".join(line + "\n" for line in lines))
            counts[i][f.name] = len(lines)
    return counts


def run_hourly(cfg, tmp_path: Path, name: str, *hours: str, **extra: str) -> list[dict]:
    env = {"MEDLEY_HOURLY_START_DATE": hours[0], **extra}
    return in_airflow_venv(cfg, RUN, str(DAGS), "medley_hourly", *hours, extra=env,
                           log=tmp_path / f"{name}.log", timeout=1700)


def rows(spark, cfg, table: str) -> list:
    return sorted(map(tuple, spark.read.format("delta").load(storage.table_uri(cfg, table)).collect()), key=repr)


def delta_version(spark, cfg, table: str) -> int:
    from delta.tables import DeltaTable

    return DeltaTable.forPath(spark, storage.table_uri(cfg, table)).history(1).collect()[0]["version"]


def druid_count(cfg, datasource: str, measure: str, day: str) -> int:
    return druid.sql(cfg, f'SELECT {measure} AS n FROM "{datasource}" WHERE __time >= TIMESTAMP \'{day} 00:00:00\' '
                          f"AND __time < TIMESTAMP '{day} 00:00:00' + INTERVAL '1' DAY")[0]["n"]


def druid_rows(cfg, datasource: str, day: str) -> list:
    found = druid.sql(cfg, f'SELECT * FROM "{datasource}" WHERE __time >= TIMESTAMP \'{day} 00:00:00\' '
                           f"AND __time < TIMESTAMP '{day} 00:00:00' + INTERVAL '1' DAY")
    return sorted((tuple(sorted(r.items())) for r in found), key=repr)


def dag_bucket(live_cfg):
    """The instance's default bucket, emptied: every DAG run of these tests works on it.

    dag.test() writes medley_hourly into the instance's metadata DB with the gold Assets of the
    bucket in its environment, while the instance's own DAG processor keeps writing it with those of
    the default bucket. Airflow keeps each Asset name active with one URI only, so with any other
    bucket the gold task could find its outlets inactive and fail before it ran (it did, in CI)."""
    return fresh_bucket(live_cfg.get("storage.bucket"))


def all_succeeded(run: dict) -> bool:
    return run["state"] == "success" and all(s == "success" for s, _ in run["tasks"].values())


@pytest.mark.services
@pytest.mark.timeout(3600)
def test_hourly_dag_over_two_hours_gives_the_input_rows_and_rerunning_changes_nothing(live_cfg, spark, tmp_path):
    day = "2026-11-20"
    cfg = dag_bucket(live_cfg)
    generate_hours(tmp_path / "generated", day, hours=12, users=100, seed=11)
    landings = split_at(tmp_path / "generated", tmp_path / "landings", hour=6)
    assert all(n["listen_events"] for n in landings), landings
    total = {s: landings[0][s] + landings[1][s] for s in landings[0]}
    hours = [f"{day}T00:00:00+00:00", f"{day}T01:00:00+00:00"]

    for i, logical in enumerate(hours):       # landing i has arrived when run i starts
        land.land_directory(cfg, tmp_path / "landings" / str(i))
        [run] = run_hourly(cfg, tmp_path, f"hour-{i}", logical)
        assert all_succeeded(run), (run, (tmp_path / f"hour-{i}.log").read_text()[-6000:])
        landed = {s: sum(landings[j][s] for j in range(i + 1)) for s in total}
        assert len(rows(spark, cfg, "gold.fact_listen")) == landed["listen_events"]
        assert druid_count(cfg, "fact_listen", "COUNT(*)", day) == landed["listen_events"]
    assert state.pending(cfg, "gold") == [] and state.pending(cfg, "druid") == []
    for r in hops.reconciliation(spark, cfg):
        stream = r["stream"].split("+")[0]
        assert r["bronze_ok"] and r["gold_ok"] and r["bronze"] == r["gold"] == total[stream], r
    assert druid_count(cfg, "agg_listens_hourly", "SUM(listen_count)", day) == total["listen_events"]

    # the same input through one `medley run` (in this process, on its own bucket) gives the same
    # gold rows, and, ingested over the same Druid intervals, the same Druid rows
    served = ("fact_listen", "agg_listens_hourly")
    druid_after_dag = {d: druid_rows(cfg, d, day) for d in served}
    reference = fresh_bucket("medley-airflow-hourly-reference")
    pipeline.run(reference, tmp_path / "generated", stop_after="druid")
    for c in all_contracts("gold"):
        assert rows(spark, cfg, c.table) == rows(spark, reference, c.table), c.table
    assert {d: druid_rows(cfg, d, day) for d in served} == druid_after_dag

    gold_then = {t: rows(spark, cfg, f"gold.{t}") for t in ("fact_listen", "agg_listens_hourly", "dim_user")}
    versions = {t: delta_version(spark, cfg, t) for t in ("bronze.events", "silver.listen_events", "gold.fact_listen")}
    again = run_hourly(cfg, tmp_path, "again", *hours)
    assert all(map(all_succeeded, again)), (again, (tmp_path / "again.log").read_text()[-6000:])
    assert {t: rows(spark, cfg, f"gold.{t}") for t in gold_then} == gold_then
    assert {t: delta_version(spark, cfg, t) for t in versions} == versions   # not even a commit
    assert druid_count(cfg, "fact_listen", "COUNT(*)", day) == total["listen_events"]
    assert druid_count(cfg, "agg_listens_hourly", "SUM(listen_count)", day) == total["listen_events"]


class Alerts(BaseHTTPRequestHandler):
    received: list[dict] = []

    def do_POST(self):
        Alerts.received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.mark.services
@pytest.mark.timeout(3600)
def test_a_failing_gate_fails_silver_without_retry_keeps_the_work_and_a_rerun_completes(live_cfg, spark, tmp_path):
    day = "2026-11-21"
    cfg = dag_bucket(live_cfg)
    lines = generate_hours(tmp_path / "input", day, hours=6, users=200, seed=12)   # 1 bad line is < 5%
    listen = tmp_path / "input" / "listen_events"
    listen.write_text(listen.read_text() + "not json at all\n")   # lands with the last line's hour
    land.land_directory(cfg, tmp_path / "input")
    hour = f"{day}T00:00:00+00:00"

    server = HTTPServer(("127.0.0.1", 0), Alerts)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        [failed] = run_hourly(cfg, tmp_path, "gate-fails", hour, MEDLEY_QUALITY__QUARANTINE_MAX_RATE="0",
                              MEDLEY_ALERTS__WEBHOOK_URL=f"http://127.0.0.1:{server.server_port}/alert")
    finally:
        server.shutdown()
    log = (tmp_path / "gate-fails.log").read_text()
    assert failed["state"] == "failed", failed
    assert failed["tasks"]["bronze"][0] == "success"
    assert failed["tasks"]["silver"] == ["failed", 1], failed          # failed at once: no retry
    assert all(failed["tasks"][t][0] != "success" for t in ("gold", "reconcile", "druid", "superset")), failed
    assert "medley.jobs silver: error: gate failed for silver.quarantine: expect_table_row_count_to_be_between" in log
    assert state.load(cfg)["silver_watermark"] is None and state.pending(cfg, "gold") == []   # still queued
    [alert] = Alerts.received
    assert (alert["dag"], alert["hop"], alert["table"]) == ("medley_hourly", "silver", "silver.quarantine"), alert
    assert alert["check"].startswith("expect_table_row_count_to_be_between"), alert

    [rerun] = run_hourly(cfg, tmp_path, "after-fix", hour)     # quality.quarantine_max_rate back to 0.05
    assert all_succeeded(rerun), (rerun, (tmp_path / "after-fix.log").read_text()[-6000:])
    assert state.pending(cfg, "gold") == [] and state.pending(cfg, "druid") == []
    assert len(rows(spark, cfg, "gold.fact_listen")) == lines["listen_events"]
    assert len(rows(spark, cfg, "silver.quarantine")) == 1
    assert druid_count(cfg, "fact_listen", "COUNT(*)", day) == lines["listen_events"]


@pytest.mark.services
@pytest.mark.timeout(3600)
def test_a_run_triggered_over_rest_runs_on_the_scheduler(live_cfg, spark, tmp_path):
    """What `make demo` is to call: orchestration.trigger_and_wait unpauses medley_hourly and
    triggers a run through the REST API; the instance's own scheduler and LocalExecutor run it with
    the services' environment, so on the instance's default bucket (emptied first)."""
    import requests

    day = "2026-11-22"
    cfg = dag_bucket(live_cfg)
    lines = generate_hours(tmp_path / "input", day, hours=6, users=200, seed=13)
    land.land_directory(cfg, tmp_path / "input")
    try:
        result = orchestration.trigger_and_wait(live_cfg, "medley_hourly", timeout_s=3000)
    finally:
        # no hourly runs on the shared test instance after this test
        user, password = airflow.admin(live_cfg)
        token = requests.post(f"{airflow.url(live_cfg)}/auth/token", json={"username": user, "password": password},
                              timeout=30).json()["access_token"]
        requests.patch(f"{airflow.url(live_cfg)}/api/v2/dags/medley_hourly", json={"is_paused": True},
                       headers={"Authorization": f"Bearer {token}"}, timeout=30).raise_for_status()
    assert result["state"] == "success", result
    assert result["tasks"] == dict.fromkeys(HOURLY_TASKS, "success"), result
    assert len(rows(spark, cfg, "gold.fact_listen")) == lines["listen_events"]
    assert druid_count(cfg, "fact_listen", "COUNT(*)", day) == lines["listen_events"]
    shot = grid_view_screenshot(live_cfg, result["run_id"])
    assert shot.stat().st_size > 10_000, shot      # a rendered page, not an empty one


HOURLY_TASKS = ["bronze", "silver", "gold", "reconcile", "druid", "superset"]
DOCS_SCREENSHOT = REPO_ROOT / "docs" / "images" / "airflow-grid.png"


def grid_view_screenshot(cfg, run_id: str) -> Path:
    """The run in Airflow's grid view as an operator sees it (headless Chromium, logged in as the
    admin): one cell per hop, in order, each saying Success. The PNG goes to the instance's state
    dir, and over docs/images/airflow-grid.png with MEDLEY_UPDATE_SCREENSHOTS=1 (how the one in
    docs/airflow.md was made)."""
    shot = cfg.state_dir / "screenshots" / "airflow-grid.png"
    with browser.page() as page:
        browser.airflow_login(page, cfg)
        states = browser.airflow_task_states(page, cfg, "medley_hourly", run_id)
        browser.screenshot(page, shot)
    assert list(states.items()) == [(task, "Success") for task in HOURLY_TASKS], (states, shot)
    if os.environ.get("MEDLEY_UPDATE_SCREENSHOTS") == "1":
        DOCS_SCREENSHOT.parent.mkdir(exist_ok=True)
        shutil.copyfile(shot, DOCS_SCREENSHOT)
    return shot
