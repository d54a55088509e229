"""MinIO: the local S3 endpoint (landing, bronze, silver, gold, quality results)."""

from medley.bootstrap import minio as minio_build
from medley.config import Config
from medley.services import Service, http_ok


def services(cfg: Config) -> list[Service]:
    port, console = cfg.port("minio"), cfg.port("minio", "console_port")
    data = cfg.data_dir / "minio"
    data.mkdir(parents=True, exist_ok=True)
    return [Service(
        name="minio",
        argv=[str(minio_build.artifact(cfg)), "server", str(data),
              "--address", f"127.0.0.1:{port}", "--console-address", f"127.0.0.1:{console}"],
        port=port,
        env={"MINIO_ROOT_USER": cfg.s3_access_key, "MINIO_ROOT_PASSWORD": cfg.s3_secret_key,
             "MINIO_BROWSER_REDIRECT": "off", "MINIO_UPDATE": "off"},
        health=http_ok(f"http://127.0.0.1:{port}/minio/health/live"),
        timeout_s=60,
        url=f"http://127.0.0.1:{console} (console)",
        other_ports={"console_port": console},
    )]
