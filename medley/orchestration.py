"""What the Airflow DAGs (airflow_dags/) call: run one Medley job per task, alert on failure,
name the gold tables as Assets, and trigger a DAG run over Airflow's REST API.

Imported by the DAG files in the Airflow venv, which has no pyspark: this module uses only the
standard library and medley's light modules; Airflow itself is imported inside the functions that
run in a task, never at import.

A job is `python -m medley.jobs <hop>` (or `-m medley.maintenance <step>`), run by the runner
that orchestration.runner names (one DAG file for both):

- local: a subprocess of the pipeline venv's python on the Airflow machine;
- kubernetes: pods in the cluster, spark-submit for the Spark hops (medley/kube_runner.py).

Either way the hop's interval, gate, hand-over state and exit codes are those of `medley run`
(medley/hops.py), and the task fails with the job's own error line (hop, table, check). A failed
gate (exit 6) or reconciliation (7) fails the task without retry: the input or the code must
change first, and the hand-over state keeps the work queued for the run after the fix. Any other
exit (a service down, out of memory, a crash, a pod that never started) may be retried.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from datetime import datetime, timezone
from functools import partial
from pathlib import Path
from typing import Callable, Mapping, Sequence

from medley import REPO_ROOT
from medley.config import Config
from medley.config import load as load_config
from medley.errors import ExitCode, MedleyError

GOLD_DIR = REPO_ROOT / "spark" / "gold"
START_DATE_ENV = "MEDLEY_HOURLY_START_DATE"
# Not transient: rerunning the same input through the same code fails the same way.
NOT_RETRIED = {ExitCode.GATE_FAILED, ExitCode.RECONCILIATION_FAILED}
RUNNERS = ("local", "kubernetes")
ERROR_LINE = re.compile(r"^medley\.\w+ [\w-]+: error: ")
# medley.quality.require_pass: "gate failed for <table>: <check>(<column>) unexpected=<n>[; ...] (result: <uri>)"
GATE_ERROR = re.compile(r"gate failed for (?P<table>[\w.]+): (?P<check>.+?) \(result: ")


class JobFailed(MedleyError):
    """A job exited non-zero; the message is the job's own error line."""

    def __init__(self, job: str, exit_code: int, line: str):
        super().__init__(line or f"{job} exited with code {exit_code} and printed no error line",
                         "" if line else "read the task log above for its output")
        self.exit_code = exit_code      # the job's, e.g. 6 for a failed gate


# --- parse-time helpers (cheap: local file names, medley.yaml and the environment; no network) ---

def gold_tables() -> list[str]:
    """The gold tables, from the contracts' file names (the same files medley.contracts reads;
    tests/airflow/test_dags.py checks both agree), without parsing any YAML."""
    return sorted(p.stem for p in GOLD_DIR.glob("[!_]*.yml"))


def gold_asset_uris(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """table -> Asset URI: where the table lives (s3://<bucket>/<gold_prefix>/<table>), from
    medley.yaml and MEDLEY_* overrides, so a downstream DAG names a table the way this one does."""
    cfg = load_config(os.environ if env is None else env)
    return {t: f"s3://{cfg.get('storage.bucket')}/{cfg.get('storage.gold_prefix')}/{t}" for t in gold_tables()}


def start_date(env: Mapping[str, str] | None = None, now: datetime | None = None) -> datetime:
    """$MEDLEY_HOURLY_START_DATE (ISO 8601; UTC unless it says otherwise), else the start of the
    current UTC hour.

    A platform team pins it (the first hour whose landing they want runs for): then catch-up and
    backfills are over fixed logical hours. The default makes unpausing create no backlog of
    runs (a fixed date in the past would create one run per hour since then). Nothing is lost by
    starting late, because a run processes what has landed and not been processed (the hand-over
    state), not only its logical hour. The cost of the default: the DAG's start_date moves every
    hour, so Airflow records a new DAG version for each hour that had runs.
    """
    env = os.environ if env is None else env
    given = env.get(START_DATE_ENV)
    if given:
        try:
            when = datetime.fromisoformat(given)
        except ValueError as err:
            raise MedleyError(f"{START_DATE_ENV}={given!r} is not an ISO 8601 date or time",
                              f"set it like 2026-12-01 or 2026-12-01T00:00:00+00:00") from err
        return when if when.tzinfo else when.replace(tzinfo=timezone.utc)
    now = now or datetime.now(timezone.utc)
    return now.replace(minute=0, second=0, microsecond=0)


# --- running a job: the local runner here, the kubernetes runner in medley/kube_runner.py -------

def pipeline_python(cfg: Config) -> Path:
    python = cfg.cache_dir / "venvs" / "pipeline" / "bin" / "python"
    if not python.exists():
        raise MedleyError(f"the pipeline environment is missing ({python})",
                          "build it once: python3 -m medley bootstrap --group pipeline")
    return python


class JobLog:
    """Passes a job's output on to the task log and keeps its error line (or, failing that, its
    last line) for the failure message."""

    def __init__(self, log: Callable[[str], None]):
        self.log, self.error_line, self.last_line = log, "", ""

    def __call__(self, line: str) -> None:
        self.log(line)
        if ERROR_LINE.match(line):
            self.error_line = line
        if line.strip():
            self.last_line = line


def runner(cfg: Config) -> str:
    name = cfg.get("orchestration.runner", "local")
    if name not in RUNNERS:
        raise MedleyError(f"orchestration.runner is {name!r}; expected one of {', '.join(RUNNERS)}",
                          "set it in medley.yaml or MEDLEY_ORCHESTRATION__RUNNER")
    return name


def run_job(module: str, args: Sequence[str], env: Mapping[str, str] | None = None,
            log: Callable[[str], None] = partial(print, flush=True)) -> None:
    """Run `python -m <module> <args>` with the runner of orchestration.runner and the given
    environment (the task's), stream its output line by line to `log` (the task log), and raise
    when it exits non-zero (raise_for_exit)."""
    env = dict(os.environ if env is None else env)
    cfg = load_config(env)
    job_log = JobLog(log)
    if runner(cfg) == "kubernetes":
        from medley import kube_runner

        code = kube_runner.run_job(module, args, cfg, job_log, note=log)
    else:
        code = _run_local(module, args, cfg, env, job_log)
    raise_for_exit(f"{module} {' '.join(args)}", code, job_log.error_line or job_log.last_line)


def retried(exit_code: int) -> bool:
    """Whether Airflow may retry a job that exited with this code."""
    return exit_code not in NOT_RETRIED


def raise_for_exit(job: str, code: int, line: str) -> None:
    """Nothing for 0; AirflowFailException (no retry) for a failed gate or reconciliation;
    JobFailed (retried) otherwise. Outside Airflow (the demo, tests) both are JobFailed."""
    if code == 0:
        return
    failure = JobFailed(job, code, line)
    if not retried(code):
        try:
            from airflow.sdk.exceptions import AirflowFailException
        except ImportError:     # not in an Airflow task: there is no retry to prevent
            raise failure from None
        raise AirflowFailException(str(failure)) from failure
    raise failure


def _run_local(module: str, args: Sequence[str], cfg: Config, env: dict, log: Callable[[str], None]) -> int:
    """The job as a subprocess of the pipeline venv's python; returns its exit code."""
    python = pipeline_python(cfg)
    # the repo's medley and spark packages, as the image sets PYTHONPATH=/opt/medley
    env["PYTHONPATH"] = str(REPO_ROOT)
    env["PYTHONUNBUFFERED"] = "1"   # its lines reach the task log as they are printed, not at exit
    log(f"running {python} -m {module} {' '.join(args)}")
    # Own process group: a stop kills the job and its Spark JVM together.
    proc = subprocess.Popen([str(python), "-m", module, *args], cwd=REPO_ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace",
                            start_new_session=True)
    previous = _forward_sigterm(proc)
    try:
        for line in proc.stdout:
            log(line.rstrip("\n"))
        return proc.wait()
    finally:
        if proc.poll() is None:     # the task itself failed or timed out: do not leave the job behind
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _forward_sigterm(proc: subprocess.Popen):
    """Stopping the task (SIGTERM from Airflow) stops the job too: a Python task's runner only
    calls on_kill(), which for @task does nothing, and the job would be left running. Returns the
    handler to restore, None where Python allows no handler (outside the main thread)."""
    if threading.current_thread() is not threading.main_thread():
        return None
    previous = signal.getsignal(signal.SIGTERM)

    def stop(signum, frame):
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
        if callable(previous):
            previous(signum, frame)

    signal.signal(signal.SIGTERM, stop)
    return previous


def run_hop(hop: str, interval: tuple[datetime, datetime] | None = None,
            env: Mapping[str, str] | None = None) -> None:
    """One hop of medley/hops.py, as `medley run` runs it (medley/jobs.py). The hop's work comes
    from the hand-over state, not from the DAG run's interval: it is logged so the task log says
    which logical hour triggered what."""
    if interval:
        print(f"logical interval {interval[0]:%Y-%m-%dT%H:%M} .. {interval[1]:%Y-%m-%dT%H:%M}: {hop} "
              "processes everything landed and not yet processed (medley/state.py)")
    run_job("medley.jobs", [hop], env)


def run_maintenance(step: str, args: Sequence[str] = (), env: Mapping[str, str] | None = None) -> None:
    """One step of medley/maintenance.py."""
    run_job("medley.maintenance", [step, *args], env)


# --- failure alerts ---------------------------------------------------------------------------

def failure_summary(dag_id: str, task_id: str, run_id: str, error: BaseException | str | None) -> dict:
    """What an operator needs in one line: DAG, hop (the task), table and check when a gate
    failed, and the job's own error line."""
    text = str(error).strip() if error else ""
    message = text.splitlines()[-1] if text else "no error recorded"
    gate = GATE_ERROR.search(message)
    table, check = (gate["table"], gate["check"].strip()) if gate else ("", "")
    where = f" table {table} check {check}" if gate else ""
    return {"dag": dag_id, "hop": task_id, "run_id": run_id, "table": table, "check": check,
            "error": message, "text": f"medley: {dag_id} {task_id} failed ({run_id}){where}: {message}"}


def on_failure(context) -> None:
    """on_failure_callback of every task: print the one-line summary to the task log and POST it
    as JSON to alerts.webhook_url when one is configured (a Slack or Teams incoming webhook reads
    its `text`). E-mail is Airflow's own: see docs/airflow.md."""
    ti = context["ti"]
    summary = failure_summary(ti.dag_id, ti.task_id, ti.run_id, context.get("exception"))
    print(summary["text"])
    url = load_config(os.environ).get("alerts.webhook_url")
    if url:
        post_alert(url, summary)


def post_alert(url: str, summary: dict) -> None:
    request = urllib.request.Request(url, data=json.dumps(summary).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10):
            pass
    except (urllib.error.URLError, OSError) as err:
        # the task has failed already; a lost alert must not hide why, so say so and go on
        print(f"medley: could not post the failure alert to alerts.webhook_url {url} ({err}) "
              "-> check the URL in medley.yaml or MEDLEY_ALERTS__WEBHOOK_URL")


# --- a DAG run through Airflow's REST API (what `make demo` calls) -----------------------------

def trigger_and_wait(cfg: Config, dag_id: str = "medley_hourly", timeout_s: float = 3600,
                     poll_s: float = 5, on_task: Callable[[str, str], None] | None = None) -> dict:
    """Unpause the DAG, trigger a run now over Airflow's REST API (api-server of this instance,
    token from the admin password), wait for it to end; return {"run_id", "state", "tasks":
    {task: state}, "url"}. A failed run raises one line naming the failed task and the job's own
    error line read from its log. on_task(task_id, state) is called whenever a task's state changes
    (the demo's progress lines).

    Unpausing is what makes the run start (the scheduler runs no run of a paused DAG); it also
    lets the schedule go on from there: with the default start_date (the current hour) that is no
    backlog, one run per hour from the next hour on."""
    import requests

    from medley.services import airflow

    base = airflow.url(cfg)
    user, password = airflow.admin(cfg)
    session = requests.Session()

    def call(method: str, path: str, **kw) -> requests.Response:
        try:
            return session.request(method, f"{base}{path}", timeout=60, **kw)
        except requests.ConnectionError as err:
            raise MedleyError(f"Airflow is not reachable at {base} ({type(err).__name__})",
                              "start it: python3 -m medley up postgres airflow") from err

    login = call("POST", "/auth/token", json={"username": user, "password": password})
    if login.status_code != 201:
        raise MedleyError(f"Airflow refused the admin login at {base} (HTTP {login.status_code})",
                          "restart it so it takes the current password: python3 -m medley down airflow "
                          "&& python3 -m medley up airflow")
    session.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
    deadline = time.monotonic() + timeout_s
    # the dag-processor parses a new DAG file some seconds after it starts
    while (found := call("GET", f"/api/v2/dags/{dag_id}")).status_code == 404 and time.monotonic() < deadline:
        time.sleep(poll_s)
    if found.status_code != 200:
        raise MedleyError(f"Airflow does not know DAG {dag_id} (HTTP {found.status_code})",
                          f"look for import errors: {base}/api/v2/importErrors")
    call("PATCH", f"/api/v2/dags/{dag_id}", json={"is_paused": False}).raise_for_status()
    now = datetime.now(timezone.utc).isoformat()
    created = call("POST", f"/api/v2/dags/{dag_id}/dagRuns", json={"logical_date": now})
    if created.status_code != 200:
        raise MedleyError(f"Airflow did not create a run of {dag_id} (HTTP {created.status_code}): "
                          f"{created.text[:300]}", f"see {base}/dags/{dag_id}")
    run_id = created.json()["dag_run_id"]
    runs = f"/api/v2/dags/{dag_id}/dagRuns/{run_id}"
    seen: dict[str, str] = {}
    while (run := call("GET", runs).json())["state"] not in ("success", "failed"):
        if on_task and run["state"] == "queued" and "(run)" not in seen:
            # max_active_runs=1: another run of the DAG (a scheduled hour, a backfill) goes first
            active = call("GET", f"/api/v2/dags/{dag_id}/dagRuns", params={"state": "running"}).json()
            for other in active.get("dag_runs", []):
                if other["dag_run_id"] == run_id:     # it started between the two calls
                    continue
                seen["(run)"] = "queued"
                on_task("(run)", f"queued behind {other['dag_run_id']}")
        if on_task:
            for t in call("GET", f"{runs}/taskInstances").json()["task_instances"]:
                if t["state"] and seen.get(t["task_id"]) != t["state"]:
                    seen[t["task_id"]] = t["state"]
                    on_task(t["task_id"], t["state"])
        if time.monotonic() > deadline:
            raise MedleyError(f"run {run_id} of {dag_id} is still {run['state']} after {timeout_s:.0f}s",
                              f"watch it in {base}/dags/{dag_id}/runs/{run_id}")
        time.sleep(poll_s)
    tasks = call("GET", f"{runs}/taskInstances").json()["task_instances"]
    for t in tasks if on_task else ():     # what ended since the last poll
        if t["state"] and seen.get(t["task_id"]) != t["state"]:
            on_task(t["task_id"], t["state"])
    result = {"run_id": run_id, "state": run["state"], "url": f"{base}/dags/{dag_id}/runs/{run_id}",
              "tasks": {t["task_id"]: t["state"] for t in tasks},
              "durations": {t["task_id"]: t.get("duration") for t in tasks}}
    failed = [t for t in tasks if t["state"] == "failed"]
    if run["state"] == "failed":
        line = _error_line(call, f"{runs}/taskInstances/{failed[0]['task_id']}/logs/{failed[0]['try_number']}") \
            if failed else ""
        raise MedleyError(f"run {run_id} of {dag_id} failed"
                          + (f" at {failed[0]['task_id']}: {line or 'no error line in its log'}" if failed else ""),
                          f"see {result['url']}")
    return result


def _error_line(call, path: str) -> str:
    """The last medley job error line in a task's log (Airflow 3 serves it as structured events)."""
    resp = call("GET", path, params={"full_content": "true"}, headers={"Accept": "application/json"})
    content = resp.json().get("content", []) if resp.status_code == 200 else []
    events = [e.get("event", "") if isinstance(e, dict) else str(e) for e in content]
    return next((e for e in reversed(events) if ERROR_LINE.match(e)), "")
