"""Great Expectations gates: one suite per table per hop, a failed gate stops the next hop.

Mechanical expectations (columns, types, nulls, accepted values, ranges, the grain's key) are
generated from the table's contract; business invariants are hand-written in
expectations/<layer>/<table>.json, each with meta.notes saying why. Every validation result
(JSON) and the Data Docs site are written to the object store under storage.quality_prefix.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from medley import REPO_ROOT, storage
from medley.config import Config
from medley.contracts import Contract
from medley.errors import GateFailed

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
SPARK_TYPE_NAMES = {"string": "StringType", "long": "LongType", "int": "IntegerType",
                    "double": "DoubleType", "boolean": "BooleanType", "timestamp": "TimestampType",
                    "date": "DateType"}


def _exp(kind: str, notes: str = "", **kwargs) -> dict:
    return {"type": kind, "kwargs": kwargs, "meta": {"notes": notes} if notes else {}}


def generated_expectations(c: Contract, extra_columns: tuple[str, ...] = ()) -> list[dict]:
    """From the contract; extra_columns are check columns a gate appends (e.g. FK flags)."""
    out = [_exp("expect_table_columns_to_match_ordered_list", "the contract's columns, in order",
                column_list=[*c.column_names, *extra_columns])]
    for col in c.columns:
        out.append(_exp("expect_column_values_to_be_of_type", column=col.name,
                        type_=SPARK_TYPE_NAMES[col.type]))
        if not col.nullable:
            out.append(_exp("expect_column_values_to_not_be_null", column=col.name))
        if col.accepted_values:
            out.append(_exp("expect_column_values_to_be_in_set", column=col.name,
                            value_set=list(col.accepted_values)))
        if col.min is not None or col.max is not None:
            out.append(_exp("expect_column_values_to_be_between", column=col.name,
                            min_value=col.min, max_value=col.max))
    if len(c.key) == 1:
        out.append(_exp("expect_column_values_to_be_unique", "the grain: one row per key", column=c.key[0]))
    elif c.key:
        out.append(_exp("expect_compound_columns_to_be_unique", "the grain: one row per key",
                        column_list=list(c.key)))
    return out


def hand_written_path(c: Contract) -> Path:
    return REPO_ROOT / "expectations" / c.layer / f"{c.name}.json"


def hand_written(c: Contract) -> list[dict]:
    """Business invariants of the table. GE keeps one expectation per type and columns in a suite,
    so a hand-written one of the same type and columns (e.g. a tighter range) replaces the generated."""
    path = hand_written_path(c)
    return json.loads(path.read_text())["expectations"] if path.exists() else []


@dataclass
class GateResult:
    table: str
    success: bool
    evaluated: int
    failed: list[str] = field(default_factory=list)   # "expectation(column)" that failed
    result_uri: str = ""
    explanation: str = ""   # what a person needs to act on a failure, e.g. the top quarantine reasons


def _describe(exp_result) -> str:
    cfg = exp_result.expectation_config
    kw = cfg.kwargs
    column = kw.get("column") or kw.get("column_list") or (
        f"{kw['column_A']}, {kw['column_B']}" if "column_A" in kw else "")
    observed = exp_result.result.get("unexpected_count", exp_result.result.get("observed_value", ""))
    return f"{cfg.type}({column}) unexpected={observed}"


def validate(cfg: Config, c: Contract, df, run_id: str, extra: list[dict] | None = None,
             extra_columns: tuple[str, ...] = ()) -> GateResult:
    """Validate df against the table's suite; save the result to the object store (its Data Docs
    page is published by `data_docs`).

    The suite runs first without sample unexpected values (GE's query for them is a full scan per
    expectation when nothing is unexpected; a limit of 0 lets Spark skip it); only a failed suite
    runs again with samples, so the saved result shows which values were wrong.
    """
    from medley.spark import cached

    expectations = generated_expectations(c, extra_columns) + hand_written(c) + (extra or [])
    df = cached(df)   # every expectation scans it
    try:
        validation = _run_suite(c, expectations, df, samples=0)
        if not validation.success:
            validation = _run_suite(c, expectations, df, samples=20)
    finally:
        df.unpersist()
    key = f"{cfg.get('storage.quality_prefix')}/runs/{run_id}/{c.layer}/{c.name}.json"
    storage.put_bytes(cfg, key, json.dumps(validation.to_json_dict(), indent=1, default=str).encode(),
                      "application/json")
    return GateResult(table=c.table, success=bool(validation.success), evaluated=len(validation.results),
                      failed=[_describe(r) for r in validation.results if not r.success],
                      result_uri=storage.uri(cfg, key, "s3"))


class _Project:
    """One throw-away GE project per process, shared by its gates: creating a project costs about
    half a second, and building Data Docs once per hop instead of once per gate saves a second more
    per gate (docs/performance.md).

    Its objects are kept by table: the dataframe asset and batch definition are made once, the suite
    and validation definition again only when the table's expectations change. Replacing them every
    gate through the stores' `all()` read back every suite, validation definition and checkpoint of
    the project each time (the project holds 23 of each after a run), which cost more than the
    validation itself on small intervals."""

    def __init__(self):
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig

        self.dir = tempfile.TemporaryDirectory(prefix="medley-gx-")
        self.ctx = gx.get_context(mode="file", project_root_dir=self.dir.name)
        # progress bars per metric drown the run summary
        self.ctx.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
        self.source = self.ctx.data_sources.add_spark("spark")
        self.site = Path(self.dir.name) / "gx" / "uncommitted" / "data_docs" / "local_site"
        self.results = Path(self.dir.name) / "gx" / "uncommitted" / "validations"
        self.published: dict[str, bytes] = {}    # Data Docs file -> content last uploaded
        self.batches: dict[str, object] = {}     # suite name -> its whole-dataframe batch definition
        self.definitions: dict[str, tuple[str, object]] = {}   # suite name -> (expectations JSON, definition)

    def definition(self, name: str, expectations: list[dict]):
        """The validation definition of suite `name` holding exactly these expectations."""
        import great_expectations as gx
        from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

        fingerprint = json.dumps(expectations, sort_keys=True, default=str)
        known = self.definitions.get(name)
        if known and known[0] == fingerprint:
            return known[1]
        if known:
            self.ctx.validation_definitions.delete(name)
            self.ctx.suites.delete(name)
        if name not in self.batches:
            self.batches[name] = self.source.add_dataframe_asset(name).add_batch_definition_whole_dataframe("run")
        suite = gx.ExpectationSuite(name=name)
        for e in expectations:   # upsert: a hand-written expectation replaces the generated one of its kind
            suite.add_expectation_configuration(ExpectationConfiguration(
                type=e["type"], kwargs=e["kwargs"], meta=e.get("meta") or {}))
        suite = self.ctx.suites.add(suite)
        definition = self.ctx.validation_definitions.add(
            gx.ValidationDefinition(name=name, data=self.batches[name], suite=suite))
        self.definitions[name] = (fingerprint, definition)
        return definition


_project: _Project | None = None


def _run_suite(c: Contract, expectations: list[dict], df, samples: int):
    """One validation in this process's GE project: the validation result (also kept in the
    project's results store, for `data_docs`)."""
    global _project
    if _project is None:
        _project = _Project()
    definition = _project.definition(f"{c.layer}.{c.name}", expectations)
    return definition.run(batch_parameters={"dataframe": df},
                          result_format={"result_format": "SUMMARY", "partial_unexpected_count": samples})


@contextmanager
def data_docs(cfg: Config):
    """Around a hop's gates: afterwards, passed or not, build the Data Docs of this process's
    validations and upload the files that changed to <quality_prefix>/data_docs/."""
    try:
        yield
    finally:
        if _project is not None:
            _project.ctx.build_data_docs()
            prefix = cfg.get("storage.quality_prefix")
            for f in sorted(_project.site.rglob("*")):
                name = str(f.relative_to(_project.site))
                if f.is_file() and _project.published.get(name) != (data := f.read_bytes()):
                    storage.put_bytes(cfg, f"{prefix}/data_docs/{name}", data,
                                      "text/html" if name.endswith(".html") else "application/octet-stream")
                    _project.published[name] = data
            # the next build renders only the next hop's results (a test session runs hundreds)
            shutil.rmtree(_project.results, ignore_errors=True)


def require_pass(result: GateResult) -> None:
    """GateFailed with one line: `gate failed for <table>: <check>[; ...] (result: <uri>)`, then the
    explanation if any (after the result, so medley.orchestration.GATE_ERROR still reads table and check)."""
    if not result.success:
        explanation = f" {result.explanation}" if result.explanation else ""
        raise GateFailed(f"gate failed for {result.table}: {'; '.join(result.failed)} "
                         f"(result: {result.result_uri}){explanation}",
                         "fix the input or the job, then rerun; the next hop did not run")
