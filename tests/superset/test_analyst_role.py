"""The analyst role for real: provisioning creates the analyst login; through the API and in the
browser it opens gold dashboards and datasets and is refused a silver one.

What decides is the dataset's name (superset/roles/analyst.yml): the test registers the same
Druid rows twice, as a gold-named dataset and as `silver_listen_events` (a silver table someone
registered in Superset: the real risk), and the analyst gets the first and not the second."""

from __future__ import annotations

import pytest
import requests

from conftest import TEST_TABLES
from medley import browser
from medley import superset as assets_lib
from medley.services import superset as superset_service

pytestmark = pytest.mark.services

GOLD_NAMED = "fact_medley_test_listen"
SILVER = "silver_listen_events"


@pytest.fixture(scope="module")
def registered(live_cfg, dashboards) -> dict[str, int]:
    """Real assets provisioned (role synced, analyst created) and the two test datasets; returns
    table name -> dataset id."""
    admin = assets_lib.client(live_cfg)
    database = admin.request("GET", "/api/v1/database/?q=(filters:!((col:database_name,opr:eq,value:Druid)))")[
        "result"][0]["id"]
    ids = {}
    for name in (GOLD_NAMED, SILVER):
        found = admin.request("GET", f"/api/v1/dataset/?q=(filters:!((col:table_name,opr:eq,value:{name})))")["result"]
        ids[name] = found[0]["id"] if found else admin.request("POST", "/api/v1/dataset/", json={
            "database": database, "schema": "druid", "table_name": name,
            "sql": f'SELECT __time, level, user_id FROM "{TEST_TABLES["fact_listen"]}"'})["id"]
    assets_lib.provision(live_cfg, admin)   # after the datasets exist: their permissions are synced
    return ids


def _analyst(cfg) -> requests.Session:
    user, password = superset_service.analyst(cfg)
    return assets_lib.Client(superset_service.url(cfg), user, password).http


def _data(http: requests.Session, cfg, dataset_id: int) -> requests.Response:
    query = {"datasource": {"id": dataset_id, "type": "table"}, "force": True, "result_format": "json",
             "result_type": "full", "queries": [{"columns": ["level"], "metrics": ["count"], "row_limit": 10}]}
    return http.post(f"{superset_service.url(cfg)}/api/v1/chart/data", json=query, timeout=180)


def test_analyst_reads_gold_and_is_refused_silver_over_the_api(live_cfg, registered):
    http, base = _analyst(live_cfg), superset_service.url(live_cfg)
    gold = _data(http, live_cfg, registered[GOLD_NAMED])
    assert gold.status_code == 200, gold.text
    assert {r["level"] for r in gold.json()["result"][0]["data"]} == {"free", "paid"}
    silver = _data(http, live_cfg, registered[SILVER])
    assert silver.status_code == 403, silver.text
    assert http.get(f"{base}/api/v1/dataset/{registered[GOLD_NAMED]}", timeout=60).status_code == 200
    assert http.get(f"{base}/api/v1/dataset/{registered[SILVER]}", timeout=60).status_code == 404
    # The admin sees both: the refusal is the role's, not a broken dataset.
    admin = assets_lib.client(live_cfg)
    assert admin.http.get(f"{base}/api/v1/dataset/{registered[SILVER]}", timeout=60).status_code == 200


def test_analyst_lists_the_gold_dashboards_and_no_sql_lab(live_cfg, registered):
    http, base = _analyst(live_cfg), superset_service.url(live_cfg)
    listed = {d["dashboard_title"] for d in http.get(f"{base}/api/v1/dashboard/?q=(page_size:100)", timeout=60)
              .json()["result"]}
    assert {"Overview", "Engagement", "Subscriptions"} <= listed
    assert not any(t.startswith("medley test: ") for t in listed), "test dashboards read medley_test_* tables"
    assert http.get(f"{base}/api/v1/dashboard/engagement", timeout=60).status_code == 200
    sqllab = http.post(f"{base}/api/v1/sqllab/execute/", timeout=60,
                       json={"database_id": 1, "sql": f"SELECT * FROM {SILVER}", "runAsync": False})
    assert sqllab.status_code in (401, 403), sqllab.text


def test_analyst_in_the_browser_opens_gold_and_is_refused_silver(live_cfg, registered):
    base = superset_service.url(live_cfg)
    with browser.page() as page:
        browser.superset_login(page, live_cfg, *superset_service.analyst(live_cfg))
        page.goto(f"{base}/superset/dashboard/engagement/")
        page.locator('[data-test="dashboard-component-chart-holder"]').first.wait_for()
        assert page.locator('[data-test="dashboard-header-container"], .header-with-actions').first \
            .inner_text().find("Engagement") >= 0
        # Explore lists a dataset's columns in its side panel: user_id for the gold-named one...
        page.goto(f"{base}/explore/?datasource_type=table&datasource_id={registered[GOLD_NAMED]}")
        page.get_by_text("user_id", exact=True).first.wait_for()
        # ...and for the silver one only Superset's refusal (it names the dataset, no column).
        page.goto(f"{base}/explore/?datasource_type=table&datasource_id={registered[SILVER]}")
        page.get_by_text("requires the datasource", exact=False).first.wait_for()
        assert page.get_by_text("user_id", exact=True).count() == 0
