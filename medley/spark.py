"""The one SparkSession of a job, built from configuration: Delta, s3a against any S3 endpoint."""

from __future__ import annotations

import os
from urllib.parse import urlparse

from medley.config import Config


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
    }


def session(cfg: Config, app_name: str = "medley"):
    """Local Spark (cfg spark.master) with the jars of `medley bootstrap jars`; on Kubernetes the
    operator sets the master and the image already has the jars (MEDLEY_SPARK_JARS="")."""
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.appName(app_name)
    jars = os.environ.get("MEDLEY_SPARK_JARS")
    if jars is None:
        from medley.bootstrap import ensure
        from medley.bootstrap.jars import jar_paths

        ensure(cfg, "jars")
        jars = ",".join(jar_paths(cfg))
    if cfg.get("spark.master"):   # absent on Kubernetes: the operator submits in cluster mode
        builder = builder.master(cfg.get("spark.master"))
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
        "spark.driver.extraJavaOptions": "-Duser.timezone=UTC",
    }
    conf.update({f"spark.hadoop.{k}": v for k, v in s3a_conf(cfg).items()})
    if cfg.get("spark.driver_memory"):
        conf["spark.driver.memory"] = cfg.get("spark.driver_memory")
    # Druid reads the gold Parquet files: millisecond timestamps (all EventSim has) read as plain
    # epoch millis there, unlike Spark's default INT96.
    conf["spark.sql.parquet.outputTimestampType"] = "TIMESTAMP_MILLIS"
    for key, value in conf.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    return spark
