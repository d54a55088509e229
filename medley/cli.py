"""The `medley` command line: argument spec here, behaviour in library modules (imported lazily)."""

from __future__ import annotations

import argparse
import importlib
from typing import Mapping, Sequence

from medley.errors import ExitCode, MedleyError

# command -> "module:function"; every function takes (cfg, args) and returns an exit code.
COMMANDS = {
    "bootstrap": "medley.commands:bootstrap",
    "up": "medley.commands:up",
    "down": "medley.commands:down",
    "status": "medley.commands:status",
    "logs": "medley.commands:logs",
    "run": "medley.commands:run_pipeline",
    "demo": "medley.commands:demo",
    "test": "medley.commands:test",
    "generate": "medley.generator.cli:run",
    "k8s": "medley.k8s.cli:run",
    "superset": "medley.superset:run",
    "quarantine": "medley.quarantine:run",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="medley", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("bootstrap", help="install everything Medley needs (cached, idempotent)")
    p.add_argument("components", nargs="*", help="only these components (default: the group)")
    p.add_argument("--group", default="test", choices=["pipeline", "demo", "test"],
                   help="which set of components (default: test = everything)")

    p = sub.add_parser("up", help="start the local services and wait until healthy")
    p.add_argument("services", nargs="*", help="only these (e.g. minio druid)")
    p = sub.add_parser("down", help="stop the services `up` started; data is kept")
    p.add_argument("services", nargs="*")
    sub.add_parser("status", help="show each service, its pid, port and log file")
    p = sub.add_parser("logs", help="print the last lines of a service's log")
    p.add_argument("service", nargs="?", help="service name (default: list the log files)")
    p.add_argument("-n", "--lines", type=int, default=40)

    p = sub.add_parser("run", help="run the pipeline: landing -> bronze -> silver -> gold -> Druid -> Superset")
    p.add_argument("--input", help="directory of EventSim output to land first (default: none, "
                                   "process what is already in the landing zone)")
    p.add_argument("--stop-after", choices=["land", "bronze", "silver", "gold", "druid", "superset"],
                   help="stop after this hop (gold includes its reconciliation)")
    p.add_argument("--every", metavar="DURATION",
                   help="run continuously, one cycle every DURATION (e.g. 2m, 90s): each cycle lands what "
                        "--input's files gained and runs the hops up to druid (docs/freshness.md)")
    p.add_argument("--cycles", type=int, help="with --every: stop after this many cycles (default: until "
                                              "Ctrl-C or SIGTERM, which let the running cycle finish)")

    p = sub.add_parser("demo", help="bootstrap, start the services and run the pipeline on the samples")
    p.add_argument("--input", help="EventSim output directory (default: the shared real samples)")
    p.add_argument("--quiet-secrets", action="store_true",
                   help="do not print the generated passwords (they stay in <state_dir>/secrets.env)")
    p.add_argument("--no-airflow", action="store_true",
                   help="run the pipeline in this process (medley run) instead of as an Airflow DAG run")

    p = sub.add_parser("quarantine", help="silver's quarantined lines: counts by reason, samples, replay")
    p.add_argument("--reason", help="only this reason (e.g. malformed_json)")
    p.add_argument("--samples", type=int, default=3, help="sample lines per reason (default: 3)")
    p.add_argument("--replay", action="store_true", help="first re-run the quarantined lines through the "
                                                         "current silver rules (after a rule was fixed)")

    p = sub.add_parser("test", help="bootstrap everything and run the test suite (the slow fault tests "
                                    "only with MEDLEY_TEST_SLOW=1)")
    p.add_argument("pytest_args", nargs=argparse.REMAINDER, help="extra arguments for pytest")

    p = sub.add_parser("generate", help="generate EventSim-format events")
    importlib.import_module("medley.generator.cli").add_arguments(p)

    p = sub.add_parser("superset", help="Superset assets as code: provision, bundle, chart data")
    importlib.import_module("medley.superset").add_arguments(p)

    p = sub.add_parser("k8s", help="a local Kubernetes control plane for chart tests")
    importlib.import_module("medley.k8s.cli").add_arguments(p)
    return parser


def main(argv: Sequence[str], env: Mapping[str, str]) -> int:
    args = build_parser().parse_args(list(argv))
    from medley import config

    module, func = COMMANDS[args.command].split(":")
    try:
        cfg = config.load(env)
        return int(getattr(importlib.import_module(module), func)(cfg, args))
    except MedleyError as err:
        print(f"medley {args.command}: error: {err}", flush=True)
        return int(err.exit_code)
    except KeyboardInterrupt:
        return int(ExitCode.INTERRUPTED)
