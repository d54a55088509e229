"""What each CLI command does; every function takes (cfg, args) and returns an exit code."""

from __future__ import annotations

from medley import services
from medley.bootstrap import GROUPS, bootstrap as run_bootstrap
from medley.config import Config
from medley.console import say
from medley.errors import ExitCode
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
