"""One pipeline run at a time: a lease in the object store, next to the hand-over state.

Two runs that overlap (`medley run` beside an Airflow task, two DAG runs, a backfill) would both
read the hand-over state, both rebuild the same dates and both write the state, one overwriting
the other. So every runner holds this lock while it runs hops (medley/pipeline.py for the whole
run, medley/jobs.py for its one hop); a second run waits for it (`lock.wait_seconds`), printing who
holds it, then exits with code 11 and that holder's name.

The lock is one small JSON object written only with conditional PUTs (If-None-Match: * when it
does not exist, If-Match: <etag> otherwise), so of two runs taking it at once exactly one wins, on
S3 and on MinIO alike. It is released by a conditional PUT marking it free, not by a DELETE:
MinIO ignores If-Match on DELETE, and an unconditional delete could drop a lock a newer holder took.
The holder renews its lease in a background thread. A holder that stops renewing (a killed pod)
loses the lock once `lock.lease_seconds` pass; a dead process on this machine loses it at once,
so a rerun after a crash does not wait. A run that finds it lost its lock stops before it writes
the hand-over state again (`check_held`, called by medley/state.py).
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import uuid
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Callable, Iterator

from medley import storage
from medley.config import Config
from medley.errors import ExitCode, MedleyError
from medley.proc import alive


class PipelineBusy(MedleyError):
    exit_code = ExitCode.BUSY


def key(cfg: Config) -> str:
    return f"{storage.lakehouse_prefix(cfg)}/_state/lock.json"


class _Lease:
    """The lock as this process holds it: its body's token and the etag of its last write."""

    def __init__(self, cfg: Config, holder: str):
        self.cfg = cfg
        self.lease_s = float(cfg.get("lock.lease_seconds"))
        self.token = uuid.uuid4().hex
        self.body = {"holder": holder, "token": self.token, "host": socket.gethostname(), "pid": os.getpid(),
                     "since": _now().isoformat(timespec="seconds")}
        self.etag = ""
        self.lost: str = ""
        self.stop = threading.Event()

    def payload(self) -> bytes:
        return json.dumps({**self.body, "expires": time.time() + self.lease_s}).encode()

    def renew_until_stopped(self) -> None:
        last_renewed = time.monotonic()
        while not self.stop.wait(self.lease_s / 4):
            try:
                self.etag = _put(self.cfg, self.payload(), if_match=self.etag)
                last_renewed = time.monotonic()
            except _Taken:
                self.lost = "another run took it over"
                return
            except Exception as err:  # noqa: BLE001 - the store is unreachable: retry until the lease is gone
                if time.monotonic() - last_renewed > self.lease_s:
                    self.lost = f"it could not be renewed for {self.lease_s:.0f}s ({type(err).__name__})"
                    return


_held: _Lease | None = None


@contextmanager
def exclusive(cfg: Config, holder: str, say: Callable[[str], None] = print) -> Iterator[None]:
    """Hold the pipeline lock for the block; wait up to lock.wait_seconds for another holder."""
    global _held
    if _held is not None:       # already held by this process (a run calling a hop)
        yield
        return
    from botocore.exceptions import EndpointConnectionError

    lease = _Lease(cfg, holder)
    deadline = time.monotonic() + float(cfg.get("lock.wait_seconds"))
    said = ""
    while True:
        current, etag = _read(cfg)
        if current is None or _free(current):
            try:
                lease.etag = _put(cfg, lease.payload(), if_match=etag, if_none_match=current is None)
                break
            except _Taken:
                continue        # another run took it between our read and write: look again
        if time.monotonic() > deadline:
            raise PipelineBusy(f"another run holds the pipeline lock: {describe(current)}",
                               "wait for it to finish (or raise lock.wait_seconds); a crashed holder's "
                               f"lock frees itself within lock.lease_seconds ({lease.lease_s:.0f}s)")
        if current["token"] != said:
            say(f"waiting for the pipeline lock: {describe(current)}")
            said = current["token"]
        time.sleep(min(2.0, lease.lease_s / 4))
    renewer = threading.Thread(target=lease.renew_until_stopped, name="medley-lock", daemon=True)
    renewer.start()
    _held = lease
    try:
        yield
    finally:
        _held = None
        lease.stop.set()
        renewer.join()
        if not lease.lost:
            try:
                _put(cfg, json.dumps({"holder": None, "released_by": lease.token,
                                      "released": _now().isoformat(timespec="seconds")}).encode(),
                     if_match=lease.etag)
            except _Taken:
                pass            # taken over after our lease lapsed: it is theirs now
            except EndpointConnectionError:
                # the store is down: the run's own error says so; our dead pid frees the lock
                # for the next run on this machine at once, and the lease for any other
                pass


def check_held() -> None:
    """Raise if this process held the lock and lost it: its view of the state may be stale."""
    if _held is not None and _held.lost:
        raise PipelineBusy(f"this run lost the pipeline lock ({_held.lost}); it stops before writing "
                           "the hand-over state", "rerun it: the work it did not hand over is still queued")


def current(cfg: Config) -> dict | None:
    """The lock object as stored: its holder, or {"holder": None, ...} once released; None if never taken."""
    return _read(cfg)[0]


def describe(body: dict) -> str:
    return (f"{body['holder']} (pid {body['pid']} on {body['host']}, since {body['since']}, lease until "
            f"{datetime.fromtimestamp(body['expires'], timezone.utc):%H:%M:%S} UTC)")


def _free(body: dict) -> bool:
    if body.get("holder") is None or body["expires"] < time.time():
        return True
    # a holder on this machine whose process is gone (killed, crashed) frees it at once
    return body["host"] == socket.gethostname() and not alive(body["pid"])


def _now() -> datetime:
    return datetime.now(timezone.utc)


class _Taken(Exception):
    """A conditional PUT lost: the lock changed since we read it."""


def _read(cfg: Config) -> tuple[dict | None, str]:
    from botocore.exceptions import EndpointConnectionError

    s3 = storage.s3_client(cfg)
    bucket = cfg.get("storage.bucket")
    try:
        response = s3.get_object(Bucket=bucket, Key=key(cfg))
    except s3.exceptions.NoSuchKey:
        return None, ""
    except s3.exceptions.NoSuchBucket:
        raise MedleyError(f"bucket {bucket} does not exist at {cfg.get('storage.endpoint')}",
                          "land events first (python3 -m medley run --input DIR creates it) or fix "
                          "storage.bucket") from None
    except EndpointConnectionError:
        raise MedleyError(f"the object store at {cfg.get('storage.endpoint')} is not reachable",
                          "start it (python3 -m medley up minio) or fix storage.endpoint") from None
    return json.loads(response["Body"].read()), response["ETag"]


def _put(cfg: Config, body: bytes, if_match: str = "", if_none_match: bool = False) -> str:
    from botocore.exceptions import ClientError

    condition = {"IfNoneMatch": "*"} if if_none_match else {"IfMatch": if_match}
    try:
        return storage.s3_client(cfg).put_object(Bucket=cfg.get("storage.bucket"), Key=key(cfg), Body=body,
                                                 ContentType="application/json", **condition)["ETag"]
    except ClientError as err:
        # 412: the condition failed; 409: a concurrent conditional write to the same key is in flight
        if err.response.get("ResponseMetadata", {}).get("HTTPStatusCode") in (409, 412):
            raise _Taken from err
        raise
