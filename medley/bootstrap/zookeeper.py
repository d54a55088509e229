"""ZooKeeper for Druid's service discovery: Debian's `zookeeper` package (3.8), installed if missing."""

from __future__ import annotations

from pathlib import Path

from medley.bootstrap import debian

NAME = "zookeeper"
DESCRIPTION = "ZooKeeper (Debian package)"
JAR = Path("/usr/share/java/zookeeper.jar")   # its manifest Class-Path names the other jars

fingerprint, artifact, build = debian.package(NAME, "zookeeper", JAR, "ZooKeeper 3.8")
