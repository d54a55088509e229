"""`medley generate` options resolved EventSim's way, minus its bugs: command line, then the
config file (start-date, end-date, n-users, growth-rate, first-user-id, seed, tag), then defaults.
EventSim lets the config override the command line and ignores the config's dates."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from medley.errors import ExitCode, MedleyError

REFERENCE = Path(__file__).resolve().parent / "reference"
DEFAULT_CONFIG = {"viirya": REFERENCE / "example-config.json",
                  "interana": REFERENCE / "interana-example-config.json"}


class UsageError(MedleyError):
    exit_code = ExitCode.USAGE


@dataclass(frozen=True)
class Options:
    dialect: str
    config: Path
    start_ms: int
    end_ms: int | None          # None: run forever (--continuous without an end)
    nusers: int
    growth_rate: float
    attrition_rate: float
    userid: int
    seed: int
    tag: str
    continuous: bool

    def run_id(self) -> str:
        """Names a run's landing objects. The end time is left out on purpose: events before it do
        not depend on it, so a restarted or extended run rewrites the same objects."""
        h = hashlib.sha256(self.config.read_bytes())
        h.update(json.dumps([self.dialect, self.start_ms, self.nusers, self.growth_rate, self.attrition_rate,
                             self.userid, self.seed, self.tag]).encode())
        return h.hexdigest()[:10]

    def engine_args(self) -> list[str]:
        return ["-ref", str(REFERENCE), "-config", str(self.config), "-dialect", self.dialect,
                "-start-ms", str(self.start_ms), "-end-ms", str(-1 if self.end_ms is None else self.end_ms),
                "-nusers", str(self.nusers), "-growth-rate", repr(self.growth_rate),
                "-attrition-rate", repr(self.attrition_rate), "-userid", str(self.userid),
                "-seed", str(self.seed), "-tag", self.tag] + (["-continuous"] if self.continuous else [])


def epoch_ms(text: str, flag: str) -> int:
    """EventSim reads LocalDateTime and treats it as UTC; an explicit offset is honoured."""
    try:
        t = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(f"{flag} {text!r} is not an ISO date-time", "use e.g. 2026-11-01T00:00:00")
    if t.tzinfo is None:
        t = t.replace(tzinfo=timezone.utc)
    return int(t.timestamp() * 1000)


def resolve(args, now: datetime | None = None) -> Options:
    dialect = args.dialect
    config = Path(args.config) if args.config else DEFAULT_CONFIG[dialect]
    try:
        conf = json.loads(config.read_text())
    except (OSError, ValueError) as err:
        raise UsageError(f"cannot read config {config}: {err}", "pass --config an EventSim JSON config")
    now = now or datetime.now(timezone.utc)
    now_ms = int(now.timestamp() * 1000)

    def pick(cli, key, default):
        return cli if cli is not None else conf.get(key, default)

    if args.start_time:
        start = epoch_ms(args.start_time, "--start-time")
    elif conf.get("start-date"):
        start = epoch_ms(conf["start-date"], "start-date (config)")
    else:
        start = now_ms - int(timedelta(days=args.from_days if args.from_days is not None else 15).total_seconds() * 1000)
    if args.end_time:
        end = epoch_ms(args.end_time, "--end-time")
    elif conf.get("end-date"):
        end = epoch_ms(conf["end-date"], "end-date (config)")
    elif args.continuous and args.to_days is None:
        end = None
    else:
        end = now_ms - int(timedelta(days=args.to_days if args.to_days is not None else 1).total_seconds() * 1000)
    if end is not None and end <= start:
        raise UsageError("the end time is not after the start time", "check --start-time/--end-time or --from/--to")

    opts = Options(dialect=dialect, config=config, start_ms=start, end_ms=end,
                   nusers=int(pick(args.nusers, "n-users", 1)),
                   growth_rate=float(pick(args.growth_rate, "growth-rate", 0.0)),
                   attrition_rate=float(args.attrition_rate or 0.0),
                   userid=int(pick(args.userid, "first-user-id", 1)),
                   seed=int(pick(args.randomseed, "seed", 1)),
                   tag=str(pick(args.tag, "tag", "") or ""),
                   continuous=bool(args.continuous))
    if opts.nusers < 0 or opts.growth_rate < 0:
        raise UsageError("--nusers and --growth-rate must not be negative", "pass values >= 0")
    if not 0 <= opts.attrition_rate < 1:
        raise UsageError(f"--attrition-rate {opts.attrition_rate} is outside [0, 1)",
                         "pass the share of users lost per year, e.g. 0.2")
    return opts
