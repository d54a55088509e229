"""Table contracts: spark/<layer>/<table>.yml is the one definition of a table's grain, key,
partitioning and columns. Spark selects and casts by it, GE suites are generated from it, Druid
specs and Superset datasets are checked against it (tests/test_contracts.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml

from medley import REPO_ROOT

LAYERS = ("bronze", "silver", "gold")
SPARK_TYPES = {"string", "long", "int", "double", "boolean", "timestamp", "date"}


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    description: str = ""
    nullable: bool = True
    pii: bool = False
    accepted_values: tuple | None = None
    min: float | None = None
    max: float | None = None
    references: str | None = None      # "<table>.<column>" of a gold dimension


@dataclass(frozen=True)
class Contract:
    layer: str
    name: str
    grain: str
    key: tuple[str, ...]
    partition_by: tuple[str, ...]
    columns: tuple[Column, ...]
    druid: dict = field(default_factory=dict)   # gold only: how the table is served in Druid

    @property
    def table(self) -> str:
        return f"{self.layer}.{self.name}"

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)

    def spark_schema(self):
        from pyspark.sql import types as T

        mapping = {"string": T.StringType(), "long": T.LongType(), "int": T.IntegerType(),
                   "double": T.DoubleType(), "boolean": T.BooleanType(),
                   "timestamp": T.TimestampType(), "date": T.DateType()}
        return T.StructType([T.StructField(c.name, mapping[c.type], c.nullable) for c in self.columns])

    def conform(self, df):
        """Select exactly the contract's columns, in order, cast to the contract's types."""
        from pyspark.sql import functions as F

        return df.select(*[F.col(c.name).cast(c.type).alias(c.name) for c in self.columns])


def path_of(layer: str, name: str) -> Path:
    return REPO_ROOT / "spark" / layer / f"{name}.yml"


@lru_cache(maxsize=None)
def column_groups(layer: str) -> dict:
    """Column sets shared by several tables of a layer (spark/<layer>/_columns.yml), used as
    `- {use: <group>}` in a contract, so e.g. the user columns are described once."""
    path = REPO_ROOT / "spark" / layer / "_columns.yml"
    return yaml.safe_load(path.read_text()) if path.exists() else {}


def _expand(layer: str, entries: list[dict]) -> list[dict]:
    out = []
    for entry in entries:
        out.extend(column_groups(layer)[entry["use"]] if "use" in entry else [entry])
    return out


@lru_cache(maxsize=None)
def contract(ref: str) -> Contract:
    """contract("silver/listen_events") or contract("silver.listen_events")."""
    layer, name = ref.replace(".", "/").split("/")
    raw = yaml.safe_load(path_of(layer, name).read_text())
    raw["columns"] = _expand(layer, raw["columns"])
    known = set(Column.__dataclass_fields__)
    for c in raw["columns"]:
        if set(c) - known:
            raise ValueError(f"{layer}/{name}.yml: column {c.get('name')} has unknown keys {set(c) - known}"
                             " (quote descriptions that contain commas)")
    columns = tuple(
        Column(**{**c, "accepted_values": tuple(c["accepted_values"]) if c.get("accepted_values") else None})
        for c in raw["columns"])
    for c in columns:
        if c.type not in SPARK_TYPES:
            raise ValueError(f"{layer}/{name}.yml: column {c.name} has unknown type {c.type}")
    return Contract(layer=layer, name=name, grain=raw["grain"], key=tuple(raw.get("key", ())),
                    partition_by=tuple(raw.get("partition_by", ())), columns=columns,
                    druid=raw.get("druid", {}))


def all_contracts(layer: str | None = None) -> list[Contract]:
    layers = [layer] if layer else LAYERS
    return [contract(f"{lay}/{p.stem}") for lay in layers
            for p in sorted((REPO_ROOT / "spark" / lay).glob("[!_]*.yml"))]
