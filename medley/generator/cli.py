"""`medley generate`: EventSim-compatible events to files or to the landing zone."""

from __future__ import annotations

import argparse
from pathlib import Path

from medley.config import Config
from medley.console import say


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("-c", "--config", help="EventSim JSON config (default: the dialect's shipped example)")
    p.add_argument("-s", "--start-time", help="start of the data, ISO date-time, UTC unless it has an offset")
    p.add_argument("-e", "--end-time", help="end of the data (exclusive), ISO date-time")
    p.add_argument("-f", "--from", dest="from_days", type=float, help="start this many days ago (default 15)")
    p.add_argument("-t", "--to", dest="to_days", type=float,
                   help="end this many days ago (default 1; with --continuous and no end: run forever)")
    p.add_argument("-n", "--nusers", type=int, help="initial number of users (default 1)")
    p.add_argument("-g", "--growth-rate", type=float, help="annual user growth, a fraction of current users")
    p.add_argument("-a", "--attrition-rate", type=float,
                   help="annual user attrition: this share of users leaves per year (0 <= r < 1)")
    p.add_argument("-u", "--userid", type=int, help="user ids start after this (default 1)")
    p.add_argument("-r", "--randomseed", type=int, help="random seed (default: the config's seed)")
    p.add_argument("--tag", help="tag written on every line that shows the user")
    p.add_argument("--continuous", action="store_true", help="pace events to the wall clock")
    p.add_argument("--dialect", choices=["viirya", "interana"], default="viirya",
                   help="viirya: four stream files; interana: one Sparkify-format stream (default viirya)")
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--out", type=Path, help="directory for the stream files")
    where.add_argument("--landing", action="store_true",
                       help="write hourly gzip objects to the landing zone of the object store")


def run(cfg: Config, args) -> int:
    from medley.generator import engine
    from medley.generator.options import resolve

    opts = resolve(args)
    if args.out:
        summary = engine.to_files(cfg, opts, args.out)
        say(f"generate: {summary['events']} events from {summary['users']} users in "
            f"{summary['seconds']:.1f}s -> {args.out}")
        for stream, n in sorted(summary["lines"].items()):
            say(f"  {stream}: {n} lines")
        return 0

    from medley.generator.landing_writer import LandingWriter, fresh_spool

    run_id = opts.run_id()
    writer = LandingWriter(cfg, run_id)
    spool = fresh_spool(cfg.data_dir, run_id)
    summary = engine.to_spool(cfg, opts, spool, writer.put)
    say(f"generate: {summary['events']} events, run {run_id}: {writer.written} objects written, "
        f"{writer.unchanged} already landed -> s3://{writer.bucket}/{writer.prefix}/")
    return 0
