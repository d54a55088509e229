"""Druid's web console, built by `medley bootstrap druid-console` and served by the router at its root
as in a Druid install: the HTML over HTTP, then the console itself in headless Chromium, its home view
reading the router's status and its services view this instance's Druid processes through the
router's SQL endpoint and management proxy. And a Node.js too old for the build is one line naming the fix."""

from __future__ import annotations

import re

import pytest
import requests

from medley import browser
from medley.bootstrap import druid_console
from medley.bootstrap.druid_console import VERSION
from medley.errors import MissingTool
from medley.services import druid as druid_services

# The console needs only Druid (and its ZooKeeper), not Superset or Airflow.
DRUID = ["zookeeper", "druid"]


@pytest.fixture(scope="module")
def druid_cfg(test_cfg):
    """Druid of the test instance: started here when this file runs alone, already up in the whole
    suite (`live_cfg`); stopped only if this module started it."""
    from medley import services

    were_up = all(services.running_pid(test_cfg, s) for s in services.all_services(test_cfg, DRUID))
    services.up(test_cfg, DRUID, quiet=True)
    yield test_cfg
    if not were_up:
        services.down(test_cfg, DRUID)


def _router(cfg) -> str:
    return f"http://127.0.0.1:{cfg.port('druid', 'router_port')}"


@pytest.mark.services
def test_the_router_root_is_the_web_console(druid_cfg):
    router = _router(druid_cfg)
    root = requests.get(f"{router}/", timeout=30)
    assert root.status_code == 200, root.text[:500]
    assert root.url == f"{router}/unified-console.html"   # the router's welcome-file redirect
    assert root.headers["Content-Type"].startswith("text/html")
    assert '<div class="app-container"></div>' in root.text
    bundle = requests.get(f"{router}/public/web-console-{VERSION}.js", timeout=30)
    assert bundle.status_code == 200
    assert len(bundle.content) > 1_000_000   # the webpacked app, not an error page


@pytest.mark.services
def test_the_console_renders_and_reads_the_cluster_through_the_router(druid_cfg):
    router = _router(druid_cfg)
    errors: list[str] = []
    with browser.page() as page:
        page.on("pageerror", lambda error: errors.append(str(error)))
        # The console asks the router whether its management proxy (Coordinator and Overlord APIs)
        # is on; without it the console runs in a restricted mode.
        with page.expect_response(lambda r: "/proxy/enabled" in r.url) as proxy:
            page.goto(f"{router}/")
        assert proxy.value.status == 200
        page.get_by_text(f"Apache Druid is running version {VERSION}").wait_for()
        assert page.get_by_text(re.compile("management proxy mode|Restricted mode")).count() == 0

        # Services: rows from sys.servers (SQL through the router to the broker), middleManager
        # workers from the Overlord through the management proxy.
        with page.expect_response(lambda r: "/druid/indexer/v1/workers" in r.url) as workers:
            page.goto(f"{router}/#services")
        assert workers.value.status == 200, workers.value.text()[:500]
        rows = page.locator(".rt-tbody .rt-tr")
        rows.filter(has_text="middle_manager").first.wait_for()
        listed = [re.split(r"\s+", row.inner_text().strip()) for row in rows.all()]
        for _, _, role, port_key in druid_services.PROCESSES:
            role = {"middleManager": "middle_manager"}.get(role, role)
            port = str(druid_cfg.port("druid", port_key))
            assert any(role in cells and port in cells for cells in listed), (role, port, listed)
        # the Actions column is shown only with the Overlord reachable through the proxy
        assert page.get_by_role("columnheader", name="Actions").count() == 1
    assert not errors, errors


def test_a_node_older_than_20_is_one_line_naming_the_fix(tmp_path, monkeypatch):
    """Debian 12's own nodejs is 18: the build must say so before npm fails somewhere in webpack."""
    for tool, script in [("node", "echo v18.20.4"), ("npm", "exit 0")]:
        (tmp_path / tool).write_text(f"#!/bin/sh\n{script}\n")
        (tmp_path / tool).chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")
    with pytest.raises(MissingTool) as failed:
        druid_console.build(None)   # fails before it reads the config
    assert "\n" not in str(failed.value)
    assert str(failed.value).startswith("Node.js v18.20.4 is too old for Druid's web console -> install Node.js >= 20")
