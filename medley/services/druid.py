"""Apache Druid: coordinator+overlord, broker, historical, middleManager and router as local JVMs.

Configuration lives in medley/services/druid_conf/ (Druid's conf layout) and is rendered at start
into <state_dir>/druid/conf with ports and paths from medley.yaml. Memory profile for 2 cores:
about 3.5 GB of heap + direct memory for the five JVMs and two task slots together.
"""

from __future__ import annotations

import re
from pathlib import Path

from medley.bootstrap import druid as druid_build
from medley.bootstrap import druid_console
from medley.config import Config
from medley.errors import ServiceFailed
from medley.services import Service, http_ok, port_open

TEMPLATES = Path(__file__).with_name("druid_conf")
# (service name, conf directory, `server` argument, port key under services.druid)
PROCESSES = [
    ("druid-coordinator", "coordinator-overlord", "coordinator", "coordinator_port"),
    ("druid-broker", "broker", "broker", "broker_port"),
    ("druid-historical", "historical", "historical", "historical_port"),
    ("druid-middlemanager", "middleManager", "middleManager", "middlemanager_port"),
    ("druid-router", "router", "router", "router_port"),
]
TASK_SLOTS = 100
# Druid reads the S3 credentials from these variables (EnvironmentVariablePasswordProvider in the
# ingestion spec), so they never appear in a task payload; medley.druid uses the same names.
S3_ACCESS_KEY_ENV = "MEDLEY_S3_ACCESS_KEY"
S3_SECRET_KEY_ENV = "MEDLEY_S3_SECRET_KEY"


def conf_dir(cfg: Config) -> Path:
    return cfg.state_dir / "druid" / "conf"


def values(cfg: Config) -> dict[str, str]:
    ports = {key: cfg.port("druid", key) for *_, key in PROCESSES}
    task_start = cfg.port("druid", "task_port_start")
    metadata = cfg.port("druid", "metadata_port")
    return {**{k: str(v) for k, v in ports.items()},
            "druid_home": str(druid_build.artifact(cfg)),
            "data_dir": str(cfg.data_dir / "druid"),
            "zookeeper_port": str(cfg.port("zookeeper")),
            "metadata_port": str(metadata),
            "task_port_start": str(task_start),
            "task_port_end": str(task_start + TASK_SLOTS - 1)}


def render(cfg: Config) -> Path:
    """Write every template with @@name@@ replaced; an unknown name is a bug in a template."""
    subs = values(cfg)
    out = conf_dir(cfg)
    for template in sorted(p for p in TEMPLATES.rglob("*") if p.is_file()):
        def fill(match: re.Match, template=template) -> str:
            if match.group(1) not in subs:
                raise ServiceFailed(f"{template}: unknown placeholder @@{match.group(1)}@@",
                                    f"use one of {', '.join(sorted(subs))}")
            return subs[match.group(1)]
        target = out / template.relative_to(TEMPLATES)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(re.sub(r"@@(\w+)@@", fill, template.read_text()))
    data = Path(subs["data_dir"])
    for sub in ("tmp", "task", "segments", "segment-cache", "indexing-logs", "processing"):
        (data / sub).mkdir(parents=True, exist_ok=True)
    return out


def _prepare(cfg: Config):
    def prepare() -> None:
        zk = cfg.port("zookeeper")
        if not port_open(zk):
            raise ServiceFailed(f"Druid needs ZooKeeper on port {zk}, which is not running",
                                "start both: python3 -m medley up zookeeper druid")
        render(cfg)
    return prepare


def services(cfg: Config) -> list[Service]:
    home = druid_build.artifact(cfg)
    conf = conf_dir(cfg)
    env = {S3_ACCESS_KEY_ENV: cfg.s3_access_key, S3_SECRET_KEY_ENV: cfg.s3_secret_key,
           # Required even though every spec names its signing region: without it the AWS SDK asks
           # EC2 instance metadata for a region when a task with an S3 input source is read, and
           # retries for minutes (the task then never starts).
           "AWS_REGION": cfg.get("storage.region")}
    found = []
    for name, directory, role, port_key in PROCESSES:
        port = cfg.port("druid", port_key)
        jvm = conf / directory / "jvm.config"
        # The router serves the web console from org/apache/druid/console on its classpath.
        console = f"{druid_console.artifact(cfg)}:" if role == "router" else ""
        found.append(Service(
            name=name,
            # jvm.config is read when the process starts, after prepare() has rendered it.
            argv=["sh", "-c", f'exec java {" ".join(druid_build.JAVA_FLAGS)} $(cat "{jvm}") '
                              f'-cp "{conf / directory}:{conf / "_common"}:{console}{home / "lib"}/*" '
                              f"org.apache.druid.cli.Main server {role}"],
            port=port,
            health=http_ok(f"http://127.0.0.1:{port}/status/health"),
            env=env,
            timeout_s=240,
            url=f"http://127.0.0.1:{port}" + (" (web console + SQL API)" if role == "router" else ""),
            prepare=_prepare(cfg),
            other_ports=_other_ports(cfg, role),
        ))
    return found


def _other_ports(cfg: Config, role: str) -> dict[str, int]:
    if role == "coordinator":
        return {"metadata_port": cfg.port("druid", "metadata_port")}
    if role == "middleManager":
        start = cfg.port("druid", "task_port_start")
        return {"task_port_start": start, "task_port_end": start + TASK_SLOTS - 1}
    return {}
