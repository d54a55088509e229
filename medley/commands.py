"""What each CLI command does; every function takes (cfg, args) and returns an exit code."""

from __future__ import annotations

from pathlib import Path

from medley import services
from medley.bootstrap import GROUPS, bootstrap as run_bootstrap
from medley.config import Config
from medley.console import say
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

    report = pipeline.run(cfg, Path(args.input) if args.input else None, args.stop_after)
    say("")
    say(pipeline.summary(report))
    return ExitCode.OK


def demo_input(cfg: Config) -> Path:
    """A day of generated events in both dialects, plus real EventSim output (tests/data)."""
    import shutil

    from medley import REPO_ROOT
    from medley.cli import main as cli_main

    out = cfg.state_dir / "demo-input"
    out.mkdir(parents=True, exist_ok=True)
    window = ["--start-time", "2026-11-01T00:00:00", "--end-time", "2026-11-02T00:00:00"]
    for dialect, first_user, target in (("viirya", 0, out), ("interana", 1_000_000, out / "interana")):
        code = cli_main(["generate", "--dialect", dialect, *window, "--nusers", "2000", "--randomseed", "7",
                         "--userid", str(first_user), "--out", str(target)], {})
        if code:
            raise MedleyError(f"medley generate failed for the {dialect} dialect", "see the output above")
    if (target / "interana_events").exists():
        shutil.move(str(target / "interana_events"), str(out / "interana_events"))
        shutil.rmtree(target)
    samples = REPO_ROOT / "tests" / "data" / "eventsim_samples"
    for path in sorted(p for p in samples.rglob("*") if p.name != "NOTICE"):
        if path.is_file():
            shutil.copy(path, out / f"sample-{path.parent.name}-{path.name}")
    return out


def demo(cfg: Config, args) -> int:
    from medley import pipeline
    from medley.bootstrap import bootstrap as run_bootstrap

    run_bootstrap(cfg, GROUPS["demo"])
    services.up(cfg)
    input_dir = Path(args.input) if args.input else demo_input(cfg)
    report = pipeline.run(cfg, input_dir)
    say("")
    say(pipeline.summary(report))
    say("")
    say(where_to_look(cfg))
    return ExitCode.OK


def where_to_look(cfg: Config) -> str:
    superset_port = cfg.port("superset")
    return "\n".join([
        "Where to look:",
        f"  Superset  http://127.0.0.1:{superset_port}/  login {cfg.get('services.superset.admin_user')} / "
        f"{cfg.secret('superset_admin_password')}  (dashboards: Charts -> 'Listens by state')",
        f"  Druid     http://127.0.0.1:{cfg.port('druid', 'router_port')}/druid/v2/sql  (SQL API; e.g. "
        "curl -H 'Content-Type: application/json' -d '{\"query\":\"SELECT * FROM agg_listens_hourly LIMIT 5\"}')",
        f"  MinIO     http://127.0.0.1:{cfg.port('minio', 'console_port')}/  login {cfg.s3_access_key} / "
        f"{cfg.s3_secret_key}  (bucket {cfg.get('storage.bucket')}: landing/, lakehouse/, quality/)",
        f"  Stop everything: python3 -m medley down   (data stays in {cfg.data_dir})",
    ])


def test(cfg: Config, args) -> int:
    import subprocess
    import sys

    from medley import REPO_ROOT

    run_bootstrap(cfg, GROUPS["test"])
    code = subprocess.run([sys.executable, "-m", "pytest", *(args.pytest_args or [])], cwd=REPO_ROOT).returncode
    return ExitCode.OK if code == 0 else ExitCode.TESTS_FAILED
