"""The object store: S3-generic (endpoint, region, path-style), MinIO locally."""

from __future__ import annotations

import io
from urllib.parse import urlparse

from medley.config import Config


def client(cfg: Config):
    from minio import Minio

    url = urlparse(cfg.get("storage.endpoint"))
    return Minio(url.netloc, access_key=cfg.s3_access_key, secret_key=cfg.s3_secret_key,
                 secure=url.scheme == "https", region=cfg.get("storage.region"))


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


def list_keys(cfg: Config, prefix: str) -> list[str]:
    return [o.object_name for o in client(cfg).list_objects(cfg.get("storage.bucket"), prefix=prefix,
                                                             recursive=True)]
