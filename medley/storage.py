"""The object store: S3-generic (endpoint, region, path-style), MinIO locally."""

from __future__ import annotations

import io
import socket
from typing import Iterator
from urllib.parse import urlparse

from medley.config import Config
from medley.errors import ServiceFailed


def client(cfg: Config):
    from minio import Minio

    url = urlparse(cfg.get("storage.endpoint"))
    return Minio(url.netloc, access_key=cfg.s3_access_key, secret_key=cfg.s3_secret_key,
                 secure=url.scheme == "https", region=cfg.get("storage.region"))


def s3_client(cfg: Config):
    """boto3, for what minio-py cannot send: conditional writes (medley/lock.py)."""
    import boto3
    from botocore.config import Config as BotoConfig

    return boto3.client("s3", endpoint_url=cfg.get("storage.endpoint"), region_name=cfg.get("storage.region"),
                        aws_access_key_id=cfg.s3_access_key, aws_secret_access_key=cfg.s3_secret_key,
                        config=BotoConfig(s3={"addressing_style": "path" if cfg.get("storage.path_style") else "auto"},
                                          retries={"mode": "standard"}))


def lakehouse_prefix(cfg: Config) -> str:
    """Where the lakehouse's tables and its hand-over state live: the layers' common parent."""
    return cfg.get("storage.gold_prefix").rsplit("/", 1)[0]


def ensure_bucket(cfg: Config) -> str:
    bucket = cfg.get("storage.bucket")
    s3 = client(cfg)
    if not s3.bucket_exists(bucket):
        s3.make_bucket(bucket)
    return bucket


def uri(cfg: Config, key: str, scheme: str = "s3a") -> str:
    return f"{scheme}://{cfg.get('storage.bucket')}/{key.lstrip('/')}"


def table_uri(cfg: Config, table: str) -> str:
    """s3a:// location of a lakehouse table such as 'silver.listen_events'."""
    layer, name = table.split(".")
    return uri(cfg, f"{cfg.get(f'storage.{layer}_prefix')}/{name}")


def put_bytes(cfg: Config, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
    """One PUT: readers see the whole object or nothing."""
    client(cfg).put_object(cfg.get("storage.bucket"), key, io.BytesIO(data), len(data),
                           content_type=content_type)


def read_chunks(cfg: Config, key: str, chunk_bytes: int = 1 << 20) -> Iterator[bytes]:
    """An object's bytes, streamed: a large object is never held in memory whole."""
    response = client(cfg).get_object(cfg.get("storage.bucket"), key)
    try:
        yield from response.stream(chunk_bytes)
    finally:
        response.close()
        response.release_conn()


def list_keys(cfg: Config, prefix: str) -> list[str]:
    return [o.object_name for o in client(cfg).list_objects(cfg.get("storage.bucket"), prefix=prefix,
                                                             recursive=True)]


def unreachable(cfg: Config, step: str) -> ServiceFailed | None:
    """The error for a step that failed while the object store does not answer (stopped, or a wrong
    endpoint), instead of the client's retries and a Java stack trace; None while it answers."""
    endpoint = urlparse(cfg.get("storage.endpoint"))
    try:
        socket.create_connection((endpoint.hostname, endpoint.port or (443 if endpoint.scheme == "https" else 80)),
                                 timeout=5).close()
        return None
    except OSError:
        return ServiceFailed(f"{step}: the object store at {cfg.get('storage.endpoint')} is not reachable",
                             "start it (python3 -m medley up minio) or fix storage.endpoint, then rerun: "
                             "the work this run did not hand over is still queued")
