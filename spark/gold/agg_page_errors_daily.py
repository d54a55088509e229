"""gold.agg_page_errors_daily: failed page requests per day, page and HTTP status, beside the
page's requests that day so an error rate is one division."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from medley.contracts import contract
from spark.gold.constants import ERROR_STATUS_MIN

CONTRACT = contract("gold/agg_page_errors_daily")


def build(page_views: DataFrame) -> DataFrame:
    requests = (page_views.groupBy("event_date", "page")
                .agg(F.count(F.lit(1)).alias("page_request_count")).alias("r"))
    errors = (page_views.where(F.col("http_status") >= ERROR_STATUS_MIN)
              .groupBy("event_date", "page", "http_status")
              .agg(F.count(F.lit(1)).alias("error_count")).alias("e"))
    same_page_day = (F.col("e.event_date") == F.col("r.event_date")) & (F.col("e.page") == F.col("r.page"))
    joined = errors.join(requests, on=same_page_day, how="left")
    return CONTRACT.conform(joined.select("e.event_date", "e.page", "e.http_status", "e.error_count",
                                          "r.page_request_count"))
