"""Apache Druid assembled from Maven Central into cache_dir/druid-<version> (lib/ + extensions/).

Three steps, all through Maven (see build/maven/druid/pom.xml for why 33.0.0):
1. lib/: druid-services and its runtime closure (dependency:copy-dependencies).
2. The extensions Central lacks for this version (s3, parquet, histogram, multi-stage-query and the
   catalog it needs) are built with Druid's own build from the source release, which is on Central,
   and installed into ~/.m2. Two patches make that resolvable from Central alone: exclude Sigar
   (third-party repository only), and drop the Avro-backed Hadoop parser from the parquet extension
   (it needs the Confluent schema registry; the native `parquet` inputFormat does not).
3. extensions/: Druid's `tools pull-deps`, as the release build does, plus druid-datasketches,
   which Central has.
"""

from __future__ import annotations

import re
import shutil
import tarfile
from pathlib import Path

from medley import REPO_ROOT
from medley.bootstrap import files_digest
from medley.config import Config
from medley.errors import MedleyError
from medley.proc import require, run_logged

NAME = "druid"
DESCRIPTION = "Apache Druid from Maven Central (about 6 minutes the first time)"
VERSION = "33.0.0"
POM = REPO_ROOT / "build" / "maven" / "druid" / "pom.xml"
BUILT_EXTENSIONS = ["druid-catalog", "s3-extensions", "parquet-extensions", "histogram", "multi-stage-query"]
EXTENSIONS = ["druid-s3-extensions", "druid-parquet-extensions", "druid-datasketches", "druid-histogram",
              "druid-multi-stage-query", "druid-catalog"]
# The flags Druid's bin/run-java adds on Java 11+; peons get them from ForkingTaskRunner itself.
JAVA_FLAGS = [
    "--add-exports=java.base/jdk.internal.misc=ALL-UNNAMED",
    "--add-exports=java.base/jdk.internal.ref=ALL-UNNAMED",
    "--add-opens=java.base/java.nio=ALL-UNNAMED",
    "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
    "--add-opens=java.base/jdk.internal.ref=ALL-UNNAMED",
    "--add-opens=java.base/java.io=ALL-UNNAMED",
    "--add-opens=java.base/java.lang=ALL-UNNAMED",
    "--add-opens=jdk.management/com.sun.management.internal=ALL-UNNAMED",
]
SIGAR_EXCLUSION = "<exclusion><groupId>org.hyperic</groupId><artifactId>sigar</artifactId></exclusion>"
AVRO_SOURCES = ["org/apache/druid/data/input/parquet/avro/ParquetAvroHadoopInputRowParser.java",
                "org/apache/parquet/avro/DruidParquetAvroReadSupport.java",
                "org/apache/druid/data/input/parquet/DruidParquetAvroInputFormat.java"]


def fingerprint(cfg: Config) -> str:
    return f"{VERSION}-{files_digest(POM, Path(__file__))}"


def artifact(cfg: Config) -> Path:
    return cfg.cache_dir / f"druid-{VERSION}"


def _log(cfg: Config) -> Path:
    return cfg.state_dir / "logs" / "bootstrap-druid.log"


def _exclude_sigar(pom: Path) -> None:
    def patch(match: re.Match) -> str:
        block = match.group(0)
        if "<groupId>org.apache.druid" not in block or "sigar" in block:
            return block
        if "<exclusions>" in block:
            return block.replace("<exclusions>", "<exclusions>" + SIGAR_EXCLUSION, 1)
        return block.replace("</dependency>", f"<exclusions>{SIGAR_EXCLUSION}</exclusions></dependency>")
    pom.write_text(re.sub(r"<dependency>.*?</dependency>", patch, pom.read_text(), flags=re.S))


def _drop_parquet_avro(module: Path) -> None:
    pom = module / "pom.xml"
    pom.write_text(re.sub(r"\s*<dependency>(?:(?!</dependency>).)*?<artifactId>druid-avro-extensions"
                          r"</artifactId>.*?</dependency>", "", pom.read_text(), flags=re.S))
    java = module / "src" / "main" / "java"
    for source in AVRO_SOURCES:
        (java / source).unlink()
    registry = java / "org/apache/druid/data/input/parquet/ParquetExtensionsModule.java"
    text = registry.read_text()
    text = text.replace("import org.apache.druid.data.input.parquet.avro.ParquetAvroHadoopInputRowParser;\n", "")
    text = re.sub(r"\s*new NamedType\(ParquetAvroHadoopInputRowParser\.class, PARQUET_AVRO_INPUT_PARSER_TYPE\),",
                  "", text)
    registry.write_text(text)


def _build_extensions(cfg: Config, tarball: Path, work: Path, repo: Path) -> None:
    with tarfile.open(tarball) as tar:
        tar.extractall(work, filter="data")
    src = work / f"apache-druid-{VERSION}-src"
    modules = [src / "extensions-core" / m for m in BUILT_EXTENSIONS]
    for module in modules:
        _exclude_sigar(module / "pom.xml")
    _drop_parquet_avro(src / "extensions-core" / "parquet-extensions")
    run_logged([require("mvn"), "-B", f"-Dmaven.repo.local={repo}", "-P", "skip-static-checks,skip-tests",
                "-Dmaven.test.skip=true", "-pl", ",".join(str(m.relative_to(src)) for m in modules), "install"],
               _log(cfg), cwd=src, what=f"building Druid {VERSION} extensions from the source release")


def require_jars(extensions: Path, names: list[str], log: Path) -> None:
    """pull-deps leaves an empty directory for an extension it could not resolve; Druid then starts
    without it and only fails at the first ingestion. Fail here instead."""
    empty = [n for n in names if not list((extensions / n).glob("*.jar"))]
    if empty:
        raise MedleyError(f"Druid extensions without jars after pull-deps: {', '.join(empty)}",
                          f"read {log}; then rerun `python3 -m medley bootstrap druid`")


def build(cfg: Config) -> None:
    java = require("java")
    mvn = require("mvn")
    home = artifact(cfg)
    partial = home.with_name(home.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    # one local repository for Maven and pull-deps: Java's user.home ignores $HOME, Python's follows it
    repo = Path.home() / ".m2" / "repository"
    run_logged([mvn, "-B", f"-Dmaven.repo.local={repo}", "-f", POM, f"-Ddruid.home={partial}",
                "dependency:copy-dependencies@lib", "dependency:copy@source-release"],
               _log(cfg), what=f"mvn: Druid {VERSION} lib/ from Maven Central")
    _build_extensions(cfg, partial / "src" / f"distribution-{VERSION}.tar.gz", partial / "build", repo)
    coordinates = [f"org.apache.druid.extensions:{ext}:{VERSION}" for ext in EXTENSIONS]
    run_logged([java, *JAVA_FLAGS, f"-Ddruid.extensions.directory={partial / 'extensions'}",
                f"-Ddruid.extensions.hadoopDependenciesDir={partial / 'hadoop-dependencies'}",
                "-cp", f"{partial / 'lib'}/*", "org.apache.druid.cli.Main", "tools", "pull-deps",
                "--no-default-hadoop", "--no-default-remote-repositories",
                "-r", "https://repo1.maven.org/maven2/", "-l", repo,
                *[arg for c in coordinates for arg in ("-c", c)]],
               _log(cfg), what="druid tools pull-deps")
    require_jars(partial / "extensions", EXTENSIONS, _log(cfg))
    shutil.rmtree(partial / "build")
    shutil.rmtree(partial / "src")
    shutil.rmtree(home, ignore_errors=True)
    partial.rename(home)
