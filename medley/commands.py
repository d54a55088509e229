"""What each CLI command does; every function takes (cfg, args) and returns an exit code."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

from medley import services
from medley.bootstrap import GROUPS, bootstrap as run_bootstrap
from medley.config import Config
from medley.console import say, table
from medley.errors import ExitCode, MedleyError
from medley.proc import tail


def bootstrap(cfg: Config, args) -> int:
    run_bootstrap(cfg, args.components or GROUPS[args.group])
    return ExitCode.OK


def up(cfg: Config, args) -> int:
    services.up(cfg, args.services or None)
    return ExitCode.OK


def down(cfg: Config, args) -> int:
    services.down(cfg, args.services or None)
    return ExitCode.OK


def status(cfg: Config, args) -> int:
    return ExitCode.OK if services.status(cfg) else ExitCode.SERVICE_FAILED


def logs(cfg: Config, args) -> int:
    if not args.service:
        for f in sorted((cfg.state_dir / "logs").glob("*.log")):
            say(str(f))
        return ExitCode.OK
    say(tail(services.log_file(cfg, args.service), args.lines))
    return ExitCode.OK


def run_pipeline(cfg: Config, args) -> int:
    from medley import pipeline

    if args.every or args.cycles is not None:
        return run_continuously(cfg, args)
    report = pipeline.run(cfg, Path(args.input) if args.input else None, args.stop_after)
    say("")
    say(pipeline.summary(report))
    return ExitCode.OK


class UsageError(MedleyError):
    exit_code = ExitCode.USAGE


def run_continuously(cfg: Config, args) -> int:
    """`medley run --every 2m`: the same hops in cycles (medley/continuous.py)."""
    from medley import continuous

    if not args.every:
        raise UsageError("--cycles needs --every", "e.g. medley run --every 2m --cycles 10")
    try:
        every_s = continuous.parse_every(args.every)
    except ValueError as err:
        raise UsageError(f"--every: {err}", "give a duration such as 2m, 90s or 1h") from None
    if args.stop_after in ("land", "superset"):
        raise UsageError(f"--stop-after {args.stop_after} does not go with --every",
                         "a cycle runs the hops from bronze up to druid; stop after bronze, silver, gold or druid")
    return continuous.run_every(cfg, every_s, Path(args.input) if args.input else None, args.stop_after,
                                args.cycles)


DEMO_DAYS = 7


def demo_window(now: datetime) -> tuple[datetime, datetime]:
    """The demo's events: the DEMO_DAYS days up to the start of the current UTC hour."""
    end = now.astimezone(timezone.utc).replace(minute=0, second=0, microsecond=0, tzinfo=None)
    return end - timedelta(days=DEMO_DAYS), end


def demo_input(cfg: Config, now: datetime | None = None) -> Path:
    """Generated events of both dialects over the last DEMO_DAYS days, so the dashboards show a
    running product (real EventSim samples, from 2017-2018, stay in the tests). Made by the first
    demo and reused by later ones: they land the same objects, which bronze skips, instead of a
    second simulated week over the first."""
    import shutil

    from medley.cli import main as cli_main

    out, made = cfg.state_dir / "demo-input", cfg.state_dir / "demo-input.window"
    if made.exists():
        return out
    shutil.rmtree(out, ignore_errors=True)
    start, end = demo_window(now or datetime.now(timezone.utc))
    window = ["--start-time", start.isoformat(), "--end-time", end.isoformat()]
    for dialect, first_user, target in (("viirya", 0, out), ("interana", 1_000_000, out / "interana")):
        code = cli_main(["generate", "--dialect", dialect, *window, "--nusers", "1000", "--randomseed", "7",
                         "--userid", str(first_user), "--out", str(target)], {})
        if code:
            raise MedleyError(f"medley generate failed for the {dialect} dialect", "see the output above")
    shutil.move(str(out / "interana" / "interana_events"), str(out / "interana_events"))
    shutil.rmtree(out / "interana")
    _add_bad_lines(out / "listen_events")
    made.write_text(f"{start.isoformat()} {end.isoformat()}\n")
    return out


def _add_bad_lines(listen_events: Path) -> None:
    """Append copies of three listens, each broken the way silver quarantines, as a real landing
    zone holds a few: the demo's Data health dashboard and `medley quarantine` then have a
    quarantine to show (negative_duration, wrong_type:duration, unknown_level)."""
    import json

    first = [json.loads(line) for line in listen_events.read_text().splitlines()[:3]]
    broken = [{**first[0], "duration": -first[0]["duration"]},
              {**first[1], "duration": "3:36"},
              {**first[2], "level": "trial"}]
    with listen_events.open("a") as f:
        f.writelines(json.dumps(line, separators=(",", ":")) + "\n" for line in broken)


def demo(cfg: Config, args) -> int:
    """Bootstrap, start the services, land the demo input and run the pipeline: as a run of the
    medley_hourly DAG, triggered over Airflow's REST API and waited on (--no-airflow: `medley run`
    in this process)."""
    from medley import pipeline

    run_bootstrap(cfg, GROUPS["demo"])
    services.up(cfg)
    input_dir = Path(args.input) if args.input else demo_input(cfg)
    say("")
    if args.no_airflow:
        say(pipeline.summary(pipeline.run(cfg, input_dir)))
    else:
        say(dag_run_summary(cfg, run_as_dag(cfg, input_dir)))
    say("")
    say(dashboards_summary(cfg))
    say("")
    say(where_to_look(cfg, show_secrets=not args.quiet_secrets))
    return ExitCode.OK


def run_as_dag(cfg: Config, input_dir: Path) -> dict:
    """Land the input, then one medley_hourly run through Airflow, with a line per task state."""
    import time

    from medley import land, orchestration, storage
    from medley.console import step

    storage.ensure_bucket(cfg)
    with step("land") as note:
        landed = land.land_directory(cfg, input_dir)
        note["note"] = f"{sum(x.lines for x in landed)} lines in {sum(x.objects for x in landed)} objects"
    started: dict[str, float] = {}

    def progress(task: str, state: str) -> None:
        if state == "running":
            started[task] = time.monotonic()
            say(f"   -> {task} ...")
        elif task in started:
            say(f"      {task}: {state} ({time.monotonic() - started[task]:.0f}s)")
        elif state not in ("scheduled", "queued"):   # e.g. upstream_failed, or the run waiting its turn
            say(f"   {task}: {state}")

    with step("medley_hourly DAG run on Airflow (each task's log has its gates and reconciliation)"):
        return orchestration.trigger_and_wait(cfg, "medley_hourly", on_task=progress)


def dag_run_summary(cfg: Config, run: dict) -> str:
    from medley import druid

    tasks = table(["task", "state", "seconds"],
                  [(t, s, f"{run['durations'].get(t) or 0:.1f}") for t, s in run["tasks"].items()])
    # a spec whose table had no rows yet (e.g. no failed page requests) has no datasource
    served = sorted(druid.served_datasources(cfg))
    rows = table(["druid datasource", "rows"],
                 [(name, druid.sql(cfg, f'SELECT COUNT(*) AS n FROM "{name}"')[0]["n"]) for name in served])
    return "\n\n".join([f"medley_hourly run {run['run_id']}: {run['state']}  {run['url']}", tasks, rows])


def dashboards_summary(cfg: Config) -> str:
    """Each Superset dashboard opened in headless Chromium as a person would: the demo fails (exit 4)
    naming any chart that errs or draws no data."""
    from medley import superset
    from medley.console import step
    from medley.services import superset as superset_service

    with step("Superset dashboards in headless Chromium (every chart drawn with data)"):
        report = superset.check(cfg)
    base = superset_service.url(cfg)
    return table(["dashboard", "charts drawn with data", "url"],
                 [(slug, len(charts), f"{base}/superset/dashboard/{slug}/") for slug, charts in report.items()])


def where_to_look(cfg: Config, show_secrets: bool = True) -> str:
    from medley.services import airflow
    from medley.services import superset as superset_service

    def login(user: str, password: str) -> str:
        return f"login {user} / " + (password if show_secrets else f"(password in {cfg.state_dir / 'secrets.env'})")

    return "\n".join([
        "Where to look:",
        f"  Airflow   {airflow.url(cfg)}/dags/medley_hourly  {login(*airflow.admin(cfg))}  (the run above and "
        "its tasks' logs; hourly runs from now on)",
        f"  Superset  http://127.0.0.1:{cfg.port('superset')}/  "
        f"{login(cfg.get('services.superset.admin_user'), cfg.secret('superset_admin_password'))}  "
        "(Dashboards: Overview, Engagement, Subscriptions, Data health)",
        f"            analyst {login(*superset_service.analyst(cfg))}  (gold dashboards and datasets only)",
        f"  Druid     http://127.0.0.1:{cfg.port('druid', 'router_port')}/  (web console: Query, Datasources, "
        "Services)",
        f"            http://127.0.0.1:{cfg.port('druid', 'router_port')}/druid/v2/sql  (SQL API; e.g. "
        "curl -H 'Content-Type: application/json' -d '{\"query\":\"SELECT * FROM agg_listens_hourly LIMIT 5\"}')",
        f"  MinIO     http://127.0.0.1:{cfg.port('minio', 'console_port')}/  {login(cfg.s3_access_key, cfg.s3_secret_key)}"
        f"  (bucket {cfg.get('storage.bucket')}: landing/, lakehouse/, quality/)",
        f"  Stop everything: python3 -m medley down   (data stays in {cfg.data_dir})",
    ])


def test(cfg: Config, args) -> int:
    """Bootstrap, then every test but the `slow` ones (the faults of tests/faults that run the
    pipeline through Druid, and the JVM kill sweep; with MEDLEY_TEST_SLOW=1 those too): they take
    about 35 minutes more. Helm, the control plane, the node and the images (the longest builds,
    needed only by the chart and Kubernetes tests, which run last) are built in the background
    meanwhile; a test that needs one before it is ready waits for that build (medley/bootstrap: one
    build at a time). The tests on the real node (marker `node`) run in a second pytest session,
    after the first has stopped the local services: two cores cannot run both stacks at once."""
    import subprocess
    import sys

    from medley import REPO_ROOT
    from medley.bootstrap import KUBERNETES_TOOLS, is_current

    run_bootstrap(cfg, [c for c in GROUPS["test"] if c not in KUBERNETES_TOOLS])
    background = None
    if not all(is_current(cfg, c) for c in KUBERNETES_TOOLS):
        log = cfg.state_dir / "logs" / "bootstrap-kubernetes-tools.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        say(f"-> building {', '.join(KUBERNETES_TOOLS)} in the background while the tests run (log: {log})")
        # Lowest CPU and I/O priority, children included: the tests' services and Spark go first,
        # the Go compiles and image writes fill the time they wait.
        low_priority = ["nice", "-n", "19", "ionice", "-c", "2", "-n", "7"]
        with log.open("w") as out:
            background = subprocess.Popen([*low_priority, sys.executable, "-m", "medley", "bootstrap",
                                           *KUBERNETES_TOOLS], cwd=REPO_ROOT, stdout=out, stderr=subprocess.STDOUT)
    pytest_args = args.pytest_args or []
    if pytest_args[:1] == ["--"]:   # `medley test -- -k lock`: argparse keeps the separator
        pytest_args = pytest_args[1:]
    slow_too = cfg.env.get("MEDLEY_TEST_SLOW") == "1"
    if "-m" in pytest_args:         # the caller's selection, in one session
        sessions = [[]]
    else:
        sessions = [["-m", "not node" if slow_too else "not slow and not node"],
                    ["-m", "node" if slow_too else "node and not slow"]]
    codes = []
    for markers in sessions:
        # the 30 slowest tests close each session's output, so a CI log shows where its time went
        codes.append(subprocess.run([sys.executable, "-m", "pytest", *markers, "--durations=30", *pytest_args],
                                    cwd=REPO_ROOT).returncode)
    if background is not None and background.wait() != 0:
        say(f"medley test: error: the background build of {', '.join(KUBERNETES_TOOLS)} failed -> see {log}")
        return ExitCode.TESTS_FAILED
    # 5 is pytest's "no test selected": a `-k` may select tests of one session only
    passed = all(c in (0, 5) for c in codes) and 0 in codes
    return ExitCode.OK if passed else ExitCode.TESTS_FAILED
