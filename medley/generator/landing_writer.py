"""Puts the generator's hourly objects into the landing zone (medley/landing.py).

One object per stream and event hour, named after the run and the hour, written with one PUT:
readers never see a partial object, and a killed run restarted with the same flags regenerates
the same objects byte for byte, so nothing is duplicated and nothing is skipped."""

from __future__ import annotations

import hashlib
import shutil
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlparse

from minio import Minio
from minio.error import S3Error

from medley import landing
from medley.config import Config
from medley.errors import MedleyError

PRODUCER = "medley-generate"
MIN_PART = 5 * 2**20
MAX_PART = 5 * 2**30


def client(cfg: Config) -> Minio:
    url = urlparse(cfg.get("storage.endpoint"))
    return Minio(url.netloc, access_key=cfg.s3_access_key, secret_key=cfg.s3_secret_key,
                 secure=url.scheme == "https", region=cfg.get("storage.region"))


def object_name(run_id: str, hour: datetime) -> str:
    return f"{PRODUCER}-{run_id}-{hour:%Y%m%dT%H}"


class LandingWriter:
    def __init__(self, cfg: Config, run_id: str):
        self.s3 = client(cfg)
        self.bucket = cfg.get("storage.bucket")
        self.prefix = cfg.get("storage.landing_prefix")
        self.run_id = run_id
        self.written = 0
        self.unchanged = 0
        try:
            if not self.s3.bucket_exists(self.bucket):
                self.s3.make_bucket(self.bucket)
        except Exception as err:  # connection refused, bad credentials: one actionable line
            raise MedleyError(f"cannot reach the object store at {cfg.get('storage.endpoint')}: {err}",
                              "start it with `python3 -m medley up minio` or set storage.endpoint") from None

    def key(self, stream: str, hour_epoch: int) -> str:
        hour = datetime.fromtimestamp(hour_epoch, timezone.utc)
        return landing.object_key(self.prefix, stream, hour, object_name(self.run_id, hour))

    def put(self, stream: str, hour_epoch: int, path: Path) -> str:
        key = self.key(stream, hour_epoch)
        data = path.read_bytes()
        md5 = hashlib.md5(data).hexdigest()
        try:  # a restarted run finds its earlier objects: same bytes, nothing to do
            if self.s3.stat_object(self.bucket, key).etag.strip('"') == md5:
                self.unchanged += 1
                path.unlink()
                return key
        except S3Error as err:
            if err.code not in ("NoSuchKey", "NoSuchObject"):
                raise
        with path.open("rb") as f:
            # part size >= length: a single PUT, never a multipart upload
            self.s3.put_object(self.bucket, key, f, len(data), content_type="application/gzip",
                               part_size=min(max(MIN_PART, len(data)), MAX_PART))
        self.written += 1
        path.unlink()
        return key


def fresh_spool(root: Path, run_id: str) -> Path:
    """Objects left from a killed run are regenerated, so its spool starts empty."""
    spool = root / "generator-spool" / run_id
    shutil.rmtree(spool, ignore_errors=True)
    spool.mkdir(parents=True)
    return spool
