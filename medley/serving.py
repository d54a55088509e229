"""What Druid serves: each spec in druid_specs/ read against the gold contracts, and the pure
transform that turns a gold table into the rows its Druid datasource ingests.

A served datasource reads one gold table, its *source*: the spec's own name (`fact_listen.json`
serves `gold.fact_listen`) unless the spec's `"medley": {"source": "<gold table>"}` names another
(`active_users.json` serves `gold.fact_page_view`). Every column the spec reads (the timestamp
column, each dimension, each metric's `fieldName`) is a column of the source, or of one of the
conformed dimensions the source references (`references: dim_x.key` in its contract): the serving
export joins those dimensions in, so Druid's rows carry song, state and gender instead of
surrogate keys. The source's own column wins over a dimension's of the same name (a fact's
`level` is the level at the event); a name found in two dimensions must be settled by the spec's
`"medley": {"from": {"artist": "dim_artist.artist"}}`. render_spec drops the `medley` section, so
Druid never sees it.

The export also fixes the Delta caveat (druid_specs/README.md): it writes every column, the
partition column included, into its Parquet files.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from medley.contracts import Column, Contract, contract
from medley.errors import MedleyError

# Druid's column types and the contract types each accepts. A boolean is served as the string
# "true"/"false" (Druid has no boolean dimension), an int widened to long.
DRUID_ACCEPTS = {"string": {"string", "boolean"}, "long": {"long", "int"}, "double": {"double"},
                 "float": {"double"}}
TIME_TYPES = {"timestamp", "date"}
# metric type -> the Druid type of the column it reads (None: any type, e.g. a sketch of ids)
METRIC_INPUT = {"longSum": "long", "longMin": "long", "longMax": "long", "doubleSum": "double",
                "doubleMin": "double", "doubleMax": "double", "thetaSketch": None,
                "HLLSketchBuild": None}


@dataclass(frozen=True)
class Input:
    """One column a spec reads: its name in the serving rows, the Druid type it is served as
    ("timestamp" for the spec's time column), and where it comes from."""
    name: str
    druid_type: str | None
    table: str            # gold table name, e.g. "fact_listen" or "dim_location"
    column: Column


@dataclass(frozen=True)
class Served:
    datasource: str
    source: Contract
    time_column: str
    inputs: tuple[Input, ...]
    dimensions: dict          # dimension table -> (the source's foreign key column, the dimension's key)

    def input(self, name: str) -> Input:
        return next(i for i in self.inputs if i.name == name)

    @property
    def partition_column(self) -> str:
        return self.source.partition_by[0]


def source_name(spec: dict) -> str:
    """The gold table a spec serves (without the `gold.` prefix)."""
    own = spec["spec"]["dataSchema"]["dataSource"]
    return spec.get("medley", {}).get("source", f"gold.{own}").removeprefix("gold.")


def _wanted(spec: dict) -> list[tuple[str, str | None]]:
    """(column, Druid type) of every column the spec reads, the time column first."""
    schema = spec["spec"]["dataSchema"]
    wanted: list[tuple[str, str | None]] = [(schema["timestampSpec"]["column"], "timestamp")]
    for d in schema["dimensionsSpec"]["dimensions"]:
        wanted.append((d, "string") if isinstance(d, str) else (d["name"], d.get("type", "string")))
    for m in schema.get("metricsSpec", []):
        if "fieldName" in m:
            if m["type"] not in METRIC_INPUT:
                raise MedleyError(f"druid_specs/{schema['dataSource']}.json: metric {m['name']} has type "
                                  f"{m['type']}, which medley.serving does not know",
                                  f"use one of {sorted(METRIC_INPUT)} or add it to METRIC_INPUT")
            wanted.append((m["fieldName"], METRIC_INPUT[m["type"]]))
    seen: dict[str, str | None] = {}
    for name, kind in wanted:   # a column read twice (a dimension and a sketch of it) is one input
        if name in seen and None not in (seen[name], kind) and seen[name] != kind:
            raise MedleyError(f"druid_specs/{schema['dataSource']}.json: column {name} is read as "
                              f"{seen[name]} and as {kind}", "read it as one type")
        seen[name] = seen.get(name) or kind
    return list(seen.items())


def served(spec: dict) -> Served:
    """The spec resolved against the contracts; MedleyError names what does not resolve (a column
    no table has, one two dimensions have, a type Druid would read differently)."""
    datasource = spec["spec"]["dataSchema"]["dataSource"]
    where = f"druid_specs/{datasource}.json"
    source = contract(f"gold/{source_name(spec)}")
    if not source.partition_by:
        raise MedleyError(f"{where}: source gold.{source.name} has no partition column",
                          "serve a fact or aggregate partitioned by its date")
    refs = {c.references.split(".")[0]: (c.name, c.references.split(".")[1])
            for c in source.columns if c.references}
    chosen = spec.get("medley", {}).get("from", {})
    inputs, used = [], {}
    for name, kind in _wanted(spec):
        if name in chosen:
            table, column_name = chosen[name].split(".")
            if table not in refs:
                raise MedleyError(f"{where}: {name} is taken from {table}, which gold.{source.name} does not "
                                  "reference", f"reference one of {sorted(refs)}")
            found = [(table, c) for c in contract(f"gold/{table}").columns if c.name == column_name]
        elif name in source.column_names:
            found = [(source.name, source.column(name))]
        else:
            found = [(t, c) for t in refs for c in contract(f"gold/{t}").columns if c.name == name]
        if not found:
            raise MedleyError(f"{where}: column {name} is in neither gold.{source.name} nor a dimension it "
                              f"references ({', '.join(sorted(refs)) or 'none'})",
                              "fix the spec or the contracts (spark/gold/*.yml)")
        if len(found) > 1:
            raise MedleyError(f"{where}: column {name} is in {' and '.join(t for t, _ in found)}",
                              f'say which in the spec: "medley": {{"from": {{"{name}": "{found[0][0]}.{name}"}}}}')
        table, column = found[0]
        _check_type(where, name, kind, column)
        inputs.append(Input(name, kind, table, column))
        if table != source.name:
            used[table] = refs[table]
    return Served(datasource, source, inputs[0].name, tuple(inputs), used)


def _check_type(where: str, name: str, kind: str | None, column: Column) -> None:
    if column.pii:
        raise MedleyError(f"{where}: column {name} is personal data (pii in its contract)",
                          "serve it only aggregated, or not at all")
    if kind == "timestamp":
        ok = column.type in TIME_TYPES
    else:
        ok = kind is None or column.type in DRUID_ACCEPTS.get(kind, set())
    if not ok:
        raise MedleyError(f"{where}: column {name} is {column.type} in its contract but read as {kind}",
                          "make the spec's type match the contract")


def column(spec: dict, name: str) -> Column:
    """The contract column a served datasource's column comes from (its type and description),
    e.g. column(load_spec("fact_listen"), "state_name") is dim_location's state_name."""
    return served(spec).input(name).column


# --- which intervals a run replaces ------------------------------------------------------------

def _replaced_dates(source: str, dates: list[str]) -> list[str]:
    """The event dates a gold run replaces in the source for these queued dates: gold rebuilds
    sessions of the day before as well (spark/gold/run.py session_start_dates)."""
    if source == "agg_sessions_daily":
        return sorted({str(date.fromisoformat(d) - timedelta(days=k)) for d in dates for k in (0, 1)})
    return sorted(set(dates))


def intervals(spec: dict, dates: list[str]) -> list[str]:
    """The Druid intervals a run over these event dates replaces: one per day, or per month for a
    datasource whose segments are months (monthly active users are recomputed for whole months)."""
    granularity = spec["spec"]["dataSchema"]["granularitySpec"].get("segmentGranularity", "day").lower()
    days = _replaced_dates(source_name(spec), dates)
    if granularity == "day":
        return [f"{d}/{date.fromisoformat(d) + timedelta(days=1)}" for d in days]
    if granularity == "month":
        starts = sorted({date.fromisoformat(d).replace(day=1) for d in days})
        return [f"{s}/{(s + timedelta(days=32)).replace(day=1)}" for s in starts]
    raise MedleyError(f"druid_specs/{spec['spec']['dataSchema']['dataSource']}.json: segmentGranularity "
                      f"{granularity} is not supported by the druid hop", "use day or month")


# --- the transform -----------------------------------------------------------------------------

def in_intervals(source, spec: dict, intervals_: list[str]):
    """The source's rows of these intervals, by its partition column (so Spark reads only those
    partitions)."""
    from pyspark.sql import functions as F

    col = F.col(served(spec).partition_column)
    condition = F.lit(False)
    for interval in intervals_:
        start, end = interval.split("/")
        condition = condition | ((col >= F.lit(start).cast("date")) & (col < F.lit(end).cast("date")))
    return source.where(condition)


def serving_rows(source, dims: dict, spec: dict):
    """DataFrame -> DataFrame: the source's rows with the dimension columns the spec reads joined
    in (left joins on the surrogate keys: the unknown member -1 gives nulls), exactly the columns
    the spec reads, typed as Druid reads them. `dims`: dimension table name -> its DataFrame.

    The dimension keys are unique: the gold gate checks every dimension's key (its grain) and every
    fact foreign key before the druid hop runs."""
    from pyspark.sql import functions as F

    s = served(spec)
    from_source = [i for i in s.inputs if i.table == s.source.name]
    rows = source.select(*[F.col(i.column.name).alias(i.name) for i in from_source],
                         *[F.col(fk).alias(f"_fk_{t}") for t, (fk, _) in s.dimensions.items()])
    for table, (_, key) in s.dimensions.items():
        wanted = [F.col(i.column.name).alias(i.name) for i in s.inputs if i.table == table]
        dim = dims[table].select(F.col(key).alias(f"_key_{table}"), *wanted)
        rows = rows.join(dim, F.col(f"_fk_{table}") == F.col(f"_key_{table}"), how="left")
    return rows.select(*[_typed(F.col(i.name), i).alias(i.name) for i in s.inputs])


def _typed(col, i: Input):
    if i.druid_type == "timestamp":
        return col.cast("timestamp")    # a date becomes its midnight UTC, a timestamp stays
    if i.druid_type in ("string", "long", "double"):
        return col.cast(i.druid_type)   # boolean -> "true"/"false", int -> long
    return col


# --- which specs the druid hop serves ----------------------------------------------------------

def is_gold_served(spec: dict) -> bool:
    """The druid hop serves the specs whose source is a gold table; a spec named after a table of
    another layer (e.g. ops.data_health) is ingested by whoever writes that table."""
    from medley.contracts import path_of

    return path_of("gold", source_name(spec)).exists()


def gold_specs() -> dict[str, dict]:
    """Spec name -> spec of every datasource the druid hop serves, in name order."""
    from medley import druid

    specs = {p.stem: druid.load_spec(p.stem) for p in sorted(druid.SPECS_DIR.glob("*.json"))}
    return {name: spec for name, spec in specs.items() if is_gold_served(spec)}
