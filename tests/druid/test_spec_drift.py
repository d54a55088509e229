"""Drift between druid_specs/ and the gold contracts, without services: every column a spec reads
is a column of its source table or of a dimension that table references (one, unambiguous), with
the type Druid reads it as; every gold fact and aggregate is served; the names other code queries
(Superset's datasets, bench/bench_serving.py) stay as they are."""

from __future__ import annotations

import copy

import pytest

from medley import config, druid, serving
from medley.contracts import all_contracts, path_of
from medley.errors import MedleyError

GOLD_SPECS = serving.gold_specs()

# The served columns other code is built on (Superset datasets, the serving benchmark): adding a
# column is fine, renaming or dropping one breaks them.
FIXED = {
    "fact_listen": {"song", "artist", "state_code", "state_name", "city", "level", "gender", "auth",
                    "user_id", "session_id", "events", "duration_s"},
    "fact_page_view": {"page", "method", "http_status", "auth", "level", "gender", "state_code",
                       "state_name", "city", "user_id", "session_id", "events"},
    "fact_auth": {"is_success", "level", "gender", "state_code", "state_name", "city", "user_id", "events"},
    "fact_status_change": {"previous_level", "new_level", "change_type", "auth", "gender", "state_code",
                           "state_name", "city", "user_id", "events"},
    "active_users": {"state_code", "level", "gender", "users", "page_views"},
}
LONG_DIMENSIONS = {"user_id", "session_id", "http_status"}


def served_names(spec: dict) -> set[str]:
    schema = spec["spec"]["dataSchema"]
    dims = {d if isinstance(d, str) else d["name"] for d in schema["dimensionsSpec"]["dimensions"]}
    return dims | {m["name"] for m in schema["metricsSpec"]}


def dimension_types(spec: dict) -> dict[str, str]:
    return {(d if isinstance(d, str) else d["name"]): ("string" if isinstance(d, str) else d.get("type", "string"))
            for d in spec["spec"]["dataSchema"]["dimensionsSpec"]["dimensions"]}


@pytest.mark.parametrize("name", sorted(GOLD_SPECS))
def test_every_column_a_spec_reads_resolves_to_a_contract_column_of_the_same_type(name):
    s = serving.served(GOLD_SPECS[name])      # raises MedleyError naming the column that does not resolve
    assert s.datasource == name
    assert s.source.column(s.time_column).type in ("timestamp", "date")
    assert s.partition_column in s.source.column_names
    for i in s.inputs:
        assert i.table == s.source.name or i.table in s.dimensions, i


@pytest.mark.parametrize("name", sorted(GOLD_SPECS))
def test_each_spec_states_its_schema_and_leaves_paths_and_dates_to_render_spec(name):
    body = GOLD_SPECS[name]["spec"]
    schema = body["dataSchema"]
    assert {"dimensionsSpec", "metricsSpec", "granularitySpec", "timestampSpec"} <= set(schema)
    assert isinstance(schema["granularitySpec"].get("rollup"), bool)
    assert "intervals" not in schema["granularitySpec"] and "inputSource" not in body["ioConfig"]


def test_every_gold_fact_and_aggregate_is_served():
    sources = {serving.source_name(s) for s in GOLD_SPECS.values()}
    wanted = {c.name for c in all_contracts("gold") if c.name.startswith(("fact_", "agg_"))}
    assert wanted <= sources, sorted(wanted - sources)


def test_every_spec_is_served_from_gold_or_names_a_table_of_another_layer():
    for path in sorted(druid.SPECS_DIR.glob("*.json")):
        if path.stem not in GOLD_SPECS:    # e.g. ops.data_health, ingested by whoever writes it
            assert any(path_of(layer, path.stem).exists() for layer in ("bronze", "silver", "ops")), path.name


@pytest.mark.parametrize("name", sorted(FIXED))
def test_the_columns_superset_and_the_benchmark_query_are_served(name):
    spec = GOLD_SPECS[name]
    assert FIXED[name] <= served_names(spec), sorted(FIXED[name] - served_names(spec))
    types = dimension_types(spec)
    assert {n: types[n] for n in LONG_DIMENSIONS & set(types)} == {n: "long" for n in LONG_DIMENSIONS & set(types)}


def test_active_users_keeps_a_sketch_of_user_ids_per_day():
    spec = GOLD_SPECS["active_users"]
    schema = spec["spec"]["dataSchema"]
    assert serving.source_name(spec) == "fact_page_view"
    assert {"type": "thetaSketch", "name": "users", "fieldName": "user_id"} in schema["metricsSpec"]
    assert schema["granularitySpec"]["rollup"] is True and schema["granularitySpec"]["queryGranularity"] == "day"


# --- the drift check can fail -------------------------------------------------------------------

def _with(name: str, change) -> dict:
    spec = copy.deepcopy(GOLD_SPECS[name])
    change(spec["spec"]["dataSchema"], spec)
    return spec


def test_a_column_no_table_has_is_drift():
    spec = _with("fact_listen", lambda s, _: s["dimensionsSpec"]["dimensions"].append("song_title"))
    with pytest.raises(MedleyError, match="column song_title is in neither gold.fact_listen nor a dimension"):
        serving.served(spec)


def test_a_type_that_disagrees_with_the_contract_is_drift():
    def city_as_long(schema, _):
        dims = schema["dimensionsSpec"]["dimensions"]
        dims[dims.index("city")] = {"type": "long", "name": "city"}
    spec = _with("fact_listen", city_as_long)
    with pytest.raises(MedleyError, match="column city is string in its contract but read as long"):
        serving.served(spec)
    metric = {"type": "doubleSum", "name": "items", "fieldName": "item_in_session"}
    with pytest.raises(MedleyError, match="column item_in_session is long in its contract but read as double"):
        serving.served(_with("fact_listen", lambda s, _: s["metricsSpec"].append(metric)))


def test_a_missing_timestamp_column_is_drift():
    spec = _with("fact_listen", lambda s, _: s["timestampSpec"].update(column="played_at"))
    with pytest.raises(MedleyError, match="column played_at is in neither"):
        serving.served(spec)
    spec = _with("fact_listen", lambda s, _: s["timestampSpec"].update(column="item_in_session"))
    with pytest.raises(MedleyError, match="column item_in_session is long in its contract but read as timestamp"):
        serving.served(spec)


def test_a_name_two_dimensions_have_must_be_settled_by_the_spec():
    spec = _with("fact_listen", lambda _, top: top["medley"].pop("from"))
    with pytest.raises(MedleyError, match="column artist is in dim_song and dim_artist"):
        serving.served(spec)


def test_a_dimension_the_source_does_not_reference_is_drift():
    spec = _with("fact_auth", lambda s, _: s["dimensionsSpec"]["dimensions"].append("song"))
    with pytest.raises(MedleyError, match=r"column song is in neither gold.fact_auth nor a dimension it "
                                          r"references \(dim_date, dim_location, dim_time, dim_user\)"):
        serving.served(spec)


# --- intervals and render_spec ------------------------------------------------------------------

def test_intervals_follow_what_gold_replaced():
    dates = ["2026-01-31", "2026-02-01"]
    assert serving.intervals(GOLD_SPECS["fact_listen"], dates) == ["2026-01-31/2026-02-01", "2026-02-01/2026-02-02"]
    # sessions are rebuilt for the day before too (a session may cross midnight)
    assert serving.intervals(GOLD_SPECS["agg_sessions_daily"], ["2026-02-01"]) == [
        "2026-01-31/2026-02-01", "2026-02-01/2026-02-02"]
    # monthly active users: whole months, as gold recomputes them
    assert serving.intervals(GOLD_SPECS["agg_active_users_monthly"], dates) == [
        "2026-01-01/2026-02-01", "2026-02-01/2026-03-01"]


def test_render_spec_gives_druid_no_medley_section(tmp_path):
    cfg = config.load({"MEDLEY_PATHS__STATE_DIR": str(tmp_path)})
    spec = druid.render_spec(cfg, GOLD_SPECS["active_users"], ["k.parquet"], ["2026-01-01/2026-01-02"])
    assert "medley" not in spec and "medley" in GOLD_SPECS["active_users"]
