"""ZooKeeper: Druid's service discovery and coordination (one standalone node, loopback only)."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Callable

from medley.bootstrap import zookeeper as zookeeper_build
from medley.config import Config
from medley.services import Service

# slf4j-simple (Debian's libslf4j-java, a dependency of the package) so the log file is not empty.
LOG_BINDING = Path("/usr/share/java/slf4j-simple.jar")


def ruok(port: int) -> Callable[[], bool]:
    def check() -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
                s.sendall(b"ruok")
                return s.recv(4) == b"imok"
        except OSError:
            return False
    return check


def _config(cfg: Config, port: int) -> Path:
    data = cfg.data_dir / "zookeeper"
    data.mkdir(parents=True, exist_ok=True)
    conf = cfg.state_dir / "zookeeper" / "zoo.cfg"
    conf.parent.mkdir(parents=True, exist_ok=True)
    # The admin server would take port 8080; `ruok` is the only four-letter word the health check needs.
    conf.write_text(f"tickTime=2000\ndataDir={data}\nclientPort={port}\nclientPortAddress=127.0.0.1\n"
                    "admin.enableServer=false\n4lw.commands.whitelist=ruok\nmaxClientCnxns=0\n"
                    "autopurge.snapRetainCount=3\nautopurge.purgeInterval=24\n")
    return conf


def services(cfg: Config) -> list[Service]:
    port = cfg.port("zookeeper")
    classpath = ":".join(str(p) for p in (zookeeper_build.artifact(cfg), LOG_BINDING) if p.exists())
    conf = cfg.state_dir / "zookeeper" / "zoo.cfg"
    return [Service(
        name="zookeeper",
        argv=["java", "-Xms64m", "-Xmx256m", "-Dzookeeper.jmx.log4j.disable=true",
              "-cp", classpath, "org.apache.zookeeper.server.quorum.QuorumPeerMain", str(conf)],
        port=port,
        health=ruok(port),
        timeout_s=60,
        url=f"127.0.0.1:{port}",
        prepare=lambda: _config(cfg, port),
    )]
