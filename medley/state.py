"""Hand-over between hops that survives failures: what each hop still has to (re)build.

Stored as one small JSON object in the object store (one PUT, so never half written):
- silver_watermark: bronze rows ingested after this time have not reached silver yet;
- pending[hop]: event dates the hop must rebuild (gold, druid).
A hop removes its dates only after its gate passed, and hands them to the next hop first, so a
failed gate or a crash leaves the work queued: the next run redoes it (every hop replaces its
interval, so redoing is safe).
Runs that would overlap are serialised by the pipeline lock (medley/lock.py).
"""

from __future__ import annotations

import json

from medley import lock, storage
from medley.config import Config


def _key(cfg: Config) -> str:
    return f"{storage.lakehouse_prefix(cfg)}/_state/pipeline.json"


def load(cfg: Config) -> dict:
    try:
        response = storage.client(cfg).get_object(cfg.get("storage.bucket"), _key(cfg))
        return json.loads(response.read())
    except Exception as err:  # noqa: BLE001 - minio raises S3Error for a missing key
        if getattr(err, "code", "") == "NoSuchKey":
            return {"silver_watermark": None, "pending": {}}
        raise


def save(cfg: Config, state: dict) -> None:
    lock.check_held()   # a run that lost the pipeline lock must not overwrite a newer run's state
    storage.put_bytes(cfg, _key(cfg), json.dumps(state, indent=1, sort_keys=True).encode(), "application/json")


def add_pending(cfg: Config, hop: str, dates) -> None:
    state = load(cfg)
    state["pending"][hop] = sorted(set(state["pending"].get(hop, [])) | {str(d) for d in dates})
    save(cfg, state)


def pending(cfg: Config, hop: str) -> list[str]:
    return load(cfg)["pending"].get(hop, [])


def done(cfg: Config, hop: str, dates, hand_to: str | None = None) -> None:
    """The hop finished these dates: queue them for the next hop, then drop them from this one."""
    if hand_to:
        add_pending(cfg, hand_to, dates)
    state = load(cfg)
    state["pending"][hop] = sorted(set(state["pending"].get(hop, [])) - {str(d) for d in dates})
    save(cfg, state)


def set_silver_watermark(cfg: Config, watermark) -> None:
    state = load(cfg)
    state["silver_watermark"] = watermark
    save(cfg, state)
