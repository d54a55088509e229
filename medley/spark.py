"""The one SparkSession of a job, built from configuration: Delta, s3a against any S3 endpoint."""

from __future__ import annotations

import subprocess
from pathlib import Path
from urllib.parse import urlparse

from medley.config import Config
from medley.errors import NoDiskSpace, OutOfMemory

# org.apache.spark.util.SparkExitCode.OOM: Spark exits the JVM when a task hits OutOfMemoryError
SPARK_EXIT_OOM = 52


def cached(df):
    """df persisted for the several jobs that read it, on local disk (spark.local.dir).
    Not MEMORY_AND_DISK: with it a 10M-line day ran out of the default 3g heap while building the
    in-memory cache of raw lines (ColumnBuilder.ensureFreeSpace, in the bronze gate and in silver);
    DISK_ONLY keeps only the batch being written on the heap."""
    from pyspark import StorageLevel

    return df.persist(StorageLevel.DISK_ONLY)


def s3a_conf(cfg: Config) -> dict[str, str]:
    endpoint = cfg.get("storage.endpoint")
    return {
        "fs.s3a.endpoint": endpoint,
        "fs.s3a.endpoint.region": cfg.get("storage.region"),
        "fs.s3a.path.style.access": str(bool(cfg.get("storage.path_style"))).lower(),
        "fs.s3a.connection.ssl.enabled": str(urlparse(endpoint).scheme == "https").lower(),
        "fs.s3a.access.key": cfg.s3_access_key,
        "fs.s3a.secret.key": cfg.s3_secret_key,
        "fs.s3a.aws.credentials.provider": "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider",
        "fs.s3a.impl": "org.apache.hadoop.fs.s3a.S3AFileSystem",
        # MinIO and most S3 clones reject the newer checksum headers of SDK v2 uploads.
        "fs.s3a.checksum.validation": "false",
        "fs.s3a.create.checksum.algorithm": "",
        # A stopped or unreachable store fails the step in tens of seconds, not minutes: with the
        # defaults (7 S3A retries of 5 SDK attempts each, on every call) a silver hop took 322 s to
        # fail. Throttling (503) keeps its own, longer budget (fs.s3a.retry.throttle.limit).
        "fs.s3a.retry.limit": "3",
        "fs.s3a.attempts.maximum": "2",
    }


def session(cfg: Config, app_name: str = "medley"):
    """Local Spark (cfg spark.master) with the jars of `medley bootstrap jars`; on Kubernetes the
    operator sets the master and the image already has the jars (MEDLEY_SPARK_JARS="")."""
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.appName(app_name)
    jars = cfg.env.get("MEDLEY_SPARK_JARS")
    if jars is None:
        from medley.bootstrap import ensure
        from medley.bootstrap.jars import jar_paths

        ensure(cfg, "jars")
        jars = ",".join(jar_paths(cfg))
    java_options = "-Duser.timezone=UTC"
    if cfg.get("spark.master"):   # absent on Kubernetes: the operator submits in cluster mode
        builder = builder.master(cfg.get("spark.master"))
        # Locally the terminal is for people (progress, summary): Spark's own log goes to a file.
        # On Kubernetes it stays on the console, where `kubectl logs` reads it.
        java_options += f" -Dlog4j2.configurationFile=file:{_log_to_file(cfg)}"
        # like every local service, the driver's ports (block manager, RPC) listen on loopback only
        builder = builder.config("spark.driver.bindAddress", "127.0.0.1").config("spark.driver.host", "127.0.0.1")
    conf = {
        "spark.jars": jars,
        "spark.sql.shuffle.partitions": str(cfg.get("spark.shuffle_partitions", 200)),
        # Delta rebuilds a table's state from its log with a shuffle of 50 partitions by default:
        # on a few cores that made every replaceWhere cost ~10 s; the log is small, size it alike.
        "spark.databricks.delta.snapshotPartitions": str(cfg.get("spark.shuffle_partitions", 200)),
        "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
        "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
        "spark.sql.session.timeZone": "UTC",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.databricks.delta.schema.autoMerge.enabled": "false",
        "spark.sql.sources.partitionOverwriteMode": "static",
        "spark.driver.extraJavaOptions": java_options,
    }
    conf.update({f"spark.hadoop.{k}": v for k, v in s3a_conf(cfg).items()})
    if cfg.get("spark.driver_memory"):
        conf["spark.driver.memory"] = cfg.get("spark.driver_memory")
    if cfg.get("spark.local_dir"):
        conf["spark.local.dir"] = cfg.get("spark.local_dir")
    if cfg.get("spark.event_log_dir"):
        events = Path(cfg.get("spark.event_log_dir")).expanduser().resolve()
        events.mkdir(parents=True, exist_ok=True)
        # one plain JSON-lines file per application, readable by bench/spark_events.py
        conf.update({"spark.eventLog.enabled": "true", "spark.eventLog.dir": events.as_uri(),
                     "spark.eventLog.compress": "false", "spark.eventLog.rolling.enabled": "false"})
    # Druid reads the gold Parquet files: millisecond timestamps (all EventSim has) read as plain
    # epoch millis there, unlike Spark's default INT96.
    conf["spark.sql.parquet.outputTimestampType"] = "TIMESTAMP_MILLIS"
    for key, value in conf.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    return spark


def _log_to_file(cfg: Config) -> Path:
    """A log4j2 configuration sending every Spark log line to <state_dir>/logs/spark.log."""
    logs = cfg.state_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    config = cfg.state_dir / "spark-log4j2.properties"
    config.write_text("\n".join([
        "rootLogger.level = warn",
        "rootLogger.appenderRef.file.ref = file",
        "appender.file.type = File",
        "appender.file.name = file",
        f"appender.file.fileName = {logs / 'spark.log'}",
        "appender.file.append = true",
        "appender.file.layout.type = PatternLayout",
        "appender.file.layout.pattern = %d{yyyy-MM-dd HH:mm:ss} %p %c{1}: %m%n%ex",
        # Spark's shell default: Parquet's and Hive's chatter stays off even in the file
        "logger.parquet.name = org.apache.parquet",
        "logger.parquet.level = error",
    ]) + "\n")
    return config


def _chain(err: BaseException | None) -> list[BaseException]:
    """The failure and the ones it was raised from."""
    out: list[BaseException] = []
    while err is not None and err not in out:
        out.append(err)
        err = err.__cause__ or err.__context__
    return out


def _text(err: BaseException) -> str:
    try:
        return str(err)
    except Exception:   # a Py4JJavaError asks the (possibly dead) JVM for its message
        return ""


def out_of_memory(cfg: Config, step: str, err: BaseException | None, wait_s: float = 30) -> OutOfMemory | None:
    """The error to show for a failed step when it killed this process's Spark JVM with an OOM.

    In local mode every task runs in the driver JVM; on an OutOfMemoryError in a task Spark exits
    it with code 52 and Python sees only a lost connection, after pages of Java stack traces. An
    OutOfMemoryError on the driver's own thread (planning, collecting) comes back as a Java error.
    """
    chain = _chain(err)
    if not (any("java.lang.OutOfMemoryError" in _text(e) for e in chain)
            or _jvm_exit_code(chain, wait_s) == SPARK_EXIT_OOM):
        return None
    return OutOfMemory(f"{step}: Spark ran out of memory (java.lang.OutOfMemoryError) "
                       f"with spark.driver_memory {cfg.get('spark.driver_memory')}",
                       "raise spark.driver_memory in medley.yaml or MEDLEY_SPARK__DRIVER_MEMORY "
                       "(10M events in a day needed 10g), or process fewer days per run")


def out_of_disk(cfg: Config, step: str, err: BaseException | None) -> NoDiskSpace | None:
    """The error to show for a failed step when Spark found no space for its scratch files (shuffle
    and spill, under spark.local.dir): the Java IOException is deep inside a Py4JJavaError."""
    if not any("No space left on device" in _text(e) for e in _chain(err)):
        return None
    where = cfg.get("spark.local_dir") or "the temporary directory (spark.local.dir's default, /tmp)"
    return NoDiskSpace(f"{step}: no space left on device for Spark's scratch files in {where}",
                       "free space there or point spark.local_dir (MEDLEY_SPARK__LOCAL_DIR) at a larger disk, "
                       "then rerun: the work this run did not hand over is still queued")


def _jvm_exit_code(chain: list[BaseException], wait_s: float) -> int | None:
    """Exit code of this process's Spark JVM, None while it runs (or no session was started)."""
    from py4j.protocol import Py4JNetworkError
    from pyspark import SparkContext

    proc = getattr(getattr(SparkContext._active_spark_context, "_gateway", None), "proc", None)
    if proc is None:
        return None
    # Python may hear of the failure while the JVM is still exiting: as a lost connection, or as
    # the job that was cancelled because the SparkContext was shut down
    going = any(isinstance(e, (ConnectionError, Py4JNetworkError)) or "SparkContext was shut down" in _text(e)
                for e in chain)
    if proc.poll() is None and going:
        try:
            proc.wait(timeout=wait_s)
        except subprocess.TimeoutExpired:
            pass
    return proc.poll()
