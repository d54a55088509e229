"""JVM jars for Spark (Delta, hadoop-aws, AWS SDK v2), resolved by Maven from build/maven/spark-jars."""

from pathlib import Path

from medley import REPO_ROOT
from medley.bootstrap import files_digest
from medley.config import Config
from medley.proc import require, run_logged

NAME = "jars"
DESCRIPTION = "Delta + hadoop-aws + AWS SDK v2 jars from Maven Central"
POM = REPO_ROOT / "build" / "maven" / "spark-jars" / "pom.xml"


def fingerprint(cfg: Config) -> str:
    return files_digest(POM)


def artifact(cfg: Config) -> Path:
    return cfg.cache_dir / "jars" / fingerprint(cfg)


def build(cfg: Config) -> None:
    require("java")
    out = artifact(cfg)
    run_logged([require("mvn"), "-B", "-q", "-f", POM, "dependency:copy-dependencies",
                f"-DoutputDirectory={out}"], cfg.state_dir / "logs" / "bootstrap-jars.log",
               what="Maven (resolving Spark jars)")


def jar_paths(cfg: Config) -> list[str]:
    return sorted(str(p) for p in artifact(cfg).glob("*.jar"))
