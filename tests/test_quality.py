"""The mechanical expectations generated from a contract, written out by hand for one table."""

from medley.contracts import all_contracts, contract
from medley.quality import generated_expectations

NOT_NULL = "expect_column_values_to_not_be_null"
OF_TYPE = "expect_column_values_to_be_of_type"
BETWEEN = "expect_column_values_to_be_between"


def test_dim_date_suite_is_generated_from_its_contract():
    def typed(column, type_):
        return [(OF_TYPE, {"column": column, "type_": type_}), (NOT_NULL, {"column": column})]

    def ranged(column, lo, hi):
        return [*typed(column, "IntegerType"), (BETWEEN, {"column": column, "min_value": lo, "max_value": hi})]

    expected = [
        ("expect_table_columns_to_match_ordered_list", {"column_list": [
            "date_key", "date", "year", "quarter", "month", "month_name", "month_start", "day_of_month",
            "day_of_week", "day_name", "iso_week", "is_weekend", "_resolves_x"]}),
        *typed("date_key", "IntegerType"), *typed("date", "DateType"), *typed("year", "IntegerType"),
        *ranged("quarter", 1, 4), *ranged("month", 1, 12), *typed("month_name", "StringType"),
        *typed("month_start", "DateType"), *ranged("day_of_month", 1, 31), *ranged("day_of_week", 1, 7),
        *typed("day_name", "StringType"), *ranged("iso_week", 1, 53), *typed("is_weekend", "BooleanType"),
        ("expect_column_values_to_be_unique", {"column": "date_key"}),
    ]
    suite = generated_expectations(contract("gold/dim_date"), extra_columns=("_resolves_x",))
    assert [(e["type"], e["kwargs"]) for e in suite] == expected


def test_accepted_values_and_compound_keys_are_generated():
    suite = generated_expectations(contract("silver/status_change_events"))
    assert {"type": "expect_column_values_to_be_in_set",
            "kwargs": {"column": "change_type", "value_set": ["upgrade", "downgrade"]}, "meta": {}} in suite
    assert not any(e["kwargs"].get("column") == "city" and e["type"] == NOT_NULL for e in suite)
    keyed = [c for c in all_contracts() if len(c.key) > 1]
    for c in keyed:
        assert {"type": "expect_compound_columns_to_be_unique", "kwargs": {"column_list": list(c.key)},
                "meta": {"notes": "the grain: one row per key"}} in generated_expectations(c), c.table
    assert keyed, "no contract with a compound key: this check tests nothing"
