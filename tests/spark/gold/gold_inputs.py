"""Tiny silver inputs for the gold tests: rows with explicit schemas from the silver contracts,
every column not given filled with a plausible default."""

from __future__ import annotations

from datetime import date, datetime

from medley.contracts import contract

DEFAULTS = {"session_id": 1, "auth": "Logged In", "level": "free", "gender": "F",
            "first_name": "Ada", "last_name": "Lovelace", "city": "Tampa", "state_code": "FL",
            "zip": "33601", "lat": 27.95, "lon": -82.46, "user_agent": "ua", "dialect": "viirya",
            "source_object": "landing/x.json", "page": "Home", "method": "GET", "http_status": 200,
            "is_success": True, "previous_level": "free", "new_level": "paid", "change_type": "upgrade",
            "artist": "The Box Tops", "song": "Soul Deep", "duration_s": 148.0}


def ts(text: str) -> datetime:
    return datetime.fromisoformat(text)


def silver(spark, table: str, rows: list[dict]):
    """rows: dicts with at least event_at ('2026-01-01 10:00:00') and user_id (or None)."""
    c = contract(f"silver/{table}")
    out = []
    for i, given in enumerate(rows):
        at = ts(given["event_at"])
        row = {**DEFAULTS, "event_key": f"{table}-{i}", "item_in_session": i,
               "registered_at": ts("2025-12-01 00:00:00"), "ingested_at": at, **given,
               "event_at": at, "event_date": date.fromisoformat(given["event_at"][:10])}
        out.append(tuple(row.get(name) for name in c.column_names))
    return spark.createDataFrame(out, c.spark_schema())


def empty(spark, table: str):
    return spark.createDataFrame([], contract(table).spark_schema())
