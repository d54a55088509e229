"""Headless Chromium for checking Medley's web UIs as a person sees them, and for screenshots.

Debian's chromium (`medley bootstrap chromium`) driven by Playwright through `executable_path`:
Playwright's own browser downloads (`playwright install`) are never used. The UIs are single-page
React apps, so every check waits for the elements it reads, never for a page load alone.

    with browser.page() as page:
        browser.airflow_login(page, cfg)
        states = browser.airflow_task_states(page, cfg, "medley_hourly", run_id)
        browser.screenshot(page, path)
"""

from __future__ import annotations

import re
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from playwright.sync_api import Page, TimeoutError as PageTimeout, sync_playwright

from medley.bootstrap import chromium
from medley.config import Config
from medley.errors import MedleyError, MissingTool
from medley.services import airflow

VIEWPORT = {"width": 1440, "height": 900}
# A busy 2-core machine renders the SPAs slowly; Playwright's default is 30 s.
TIMEOUT_MS = 60_000


@contextmanager
def page(viewport: dict = VIEWPORT) -> Iterator[Page]:
    """A fresh headless Chromium page (own profile: no cookies from an earlier check)."""
    if not chromium.BIN.exists():
        raise MissingTool(f"Chromium is not installed ({chromium.BIN} is missing)",
                          "python3 -m medley bootstrap chromium")
    with sync_playwright() as playwright:
        # Playwright starts Chromium with --no-sandbox unless asked otherwise: the sandbox refuses
        # to run as root, which is how the tests and the demo run here.
        browser = playwright.chromium.launch(executable_path=str(chromium.BIN))
        try:
            context = browser.new_context(viewport=viewport)
            context.set_default_timeout(TIMEOUT_MS)
            yield context.new_page()
        finally:
            browser.close()


def screenshot(page: Page, path: Path) -> Path:
    """The whole page as a PNG at `path` (parent folders created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=True)
    return path


def airflow_login(page: Page, cfg: Config) -> None:
    """Sign in to the Airflow UI of this instance as its admin (Airflow 3's simple auth manager form)."""
    user, password = airflow.admin(cfg)
    page.goto(f"{airflow.url(cfg)}/auth/login")
    page.get_by_role("textbox", name="Username").fill(user)
    page.get_by_label("Password").fill(password)
    with page.expect_response(lambda r: r.url.endswith("/auth/token") and r.request.method == "POST") as login:
        page.get_by_role("button", name="Sign in").click()
    if not login.value.ok:
        raise MedleyError(f"the Airflow UI at {airflow.url(cfg)} refused the admin login (HTTP {login.value.status})",
                          "restart Airflow so it takes the current password: python3 -m medley down airflow "
                          "&& python3 -m medley up airflow")
    page.wait_for_url(lambda url: "/auth/login" not in url)


def airflow_task_states(page: Page, cfg: Config, dag_id: str, run_id: str) -> dict[str, str]:
    """{task: state} of one run as the grid view shows it, in the grid's task order, e.g.
    {"bronze": "Success", ...}.

    Opens the run in the grid view (the page stays there, ready for a screenshot). The grid has a
    cell per task for the run (links `#grid-<run_id>-<task>`, top to bottom in task order), drawn
    as coloured icons; the run's Task Instances table beside it spells each state out. Both are
    read: a task missing from either is missing from the result. (Hovering a cell for its tooltip
    fails once several runs push the run's column to the grid's clipped edge.)"""
    page.goto(f"{airflow.url(cfg)}/dags/{dag_id}/runs/{run_id}")
    cells = page.locator(f'a[id^="grid-{run_id}-"]')
    cells.first.wait_for()
    rows = page.locator("table tbody tr")
    rows.first.wait_for()
    listed = {}
    for row in rows.all():
        # cells: selection box, Task ID, Map Index (empty), State, Start Date, ...
        words = [w.strip() for w in re.split(r"[\t\n]+", row.inner_text()) if w.strip()]
        if len(words) >= 2:
            listed[words[0]] = words[1]
    order = [cell.get_attribute("id").removeprefix(f"grid-{run_id}-") for cell in cells.all()]
    return {task: listed[task] for task in order if task in listed}


# --- Superset -------------------------------------------------------------------------------

def superset_login(page: Page, cfg: Config, user: str | None = None, password: str | None = None) -> None:
    """Sign in to this instance's Superset (default: as its admin) through the login form."""
    from medley.services import superset

    if user is None:
        user, password = superset.admin(cfg)
    page.goto(f"{superset.url(cfg)}/login/")
    page.locator('input[name="username"], input#username').first.fill(user)
    page.locator('input[name="password"], input#password').first.fill(password)
    page.locator('input[name="password"], input#password').first.press("Enter")
    page.wait_for_url(lambda url: "/login" not in url)


def _is_chart_data(url: str) -> bool:
    return "/api/v1/chart/data" in url or "/superset/explore_json/" in url


def _chart_id(url: str) -> int | None:
    """The chart a /api/v1/chart/data request is for (its form_data carries slice_id)."""
    from urllib.parse import parse_qs, urlparse

    form = parse_qs(urlparse(url).query).get("form_data")
    match = re.search(r'"slice_id":\s*(\d+)', form[0]) if form else None
    return int(match.group(1)) if match else None


def superset_dashboard(page: Page, cfg: Config, slug: str, query: str = "") -> dict[str, dict]:
    """Open a dashboard and wait until every chart on it has its data and has drawn it; returns
    {chart name: {"rows": rows its query returned, "error": the query's error or None,
    "drawn": whether the chart shows a plot, number or table, "text": what it shows}}.

    The rows are read from the dashboard's own /api/v1/chart/data responses (what the browser
    got), the rest from the page: an error alert in a chart counts as an error even when the
    query succeeded (a rendering failure)."""
    from medley.services import superset

    responses: list = []
    # Only collect here: a blocking call (reading the body) inside a Playwright event handler
    # can deadlock the sync API.
    collect = lambda resp: responses.append(resp) if _is_chart_data(resp.url) else None  # noqa: E731
    page.on("response", collect)
    try:
        page.goto(f"{superset.url(cfg)}/superset/dashboard/{slug}/{query}")
        holders = page.locator('[data-test="dashboard-component-chart-holder"]')
        holders.first.wait_for()
        ids = [int(i) for i in page.locator("[data-test-chart-id]").evaluate_all(
            "els => els.map(e => e.getAttribute('data-test-chart-id'))")]
        # Each chart asks for its data once laid out; wait for an answer per chart, then for the
        # charts to draw (no loading spinner left).
        deadline = time.monotonic() + TIMEOUT_MS / 1000
        while not set(ids) <= {_chart_id(r.url) for r in responses} and time.monotonic() < deadline:
            page.wait_for_timeout(500)
        page.wait_for_function(
            """() => !document.querySelector('[data-test="slice-container"] [data-test="loading-indicator"], '
                     + '[data-test="slice-container"] .loading')""")
        answers: dict[int, dict] = {}
        for resp in responses:
            try:
                payload = resp.json()
                # /api/v1/chart/data answers {"result": [query results]}; the legacy charts'
                # /superset/explore_json/ (the country map) answers one result.
                result = (payload.get("result") or [{}])[0] if "result" in payload else payload
            except Exception as err:  # noqa: BLE001 - an HTML error page is an answer too
                result = {"error": f"HTTP {resp.status}: {err}"}
            answers[_chart_id(resp.url)] = {
                "rows": result.get("rowcount", len(result.get("data") or [])),
                "error": result.get("error") or (None if resp.ok else f"HTTP {resp.status}")}
        charts = {}
        for chart in page.locator("[data-test-chart-id]").all():
            chart_id = int(chart.get_attribute("data-test-chart-id"))
            # a chart whose query failed shows its error in place of the slice container
            body = chart.locator('[data-test="slice-container"]')
            if not body.count():
                body = chart
            answer = answers.get(chart_id, {"rows": 0, "error": "no data request seen"})
            failed = body.locator('[role="alert"], .alert-danger, [data-test="error-tooltip"]').count() > 0
            charts[chart.get_attribute("data-test-chart-name")] = {
                "rows": answer["rows"],
                "error": answer["error"] or ("the chart shows an error" if failed else None),
                "drawn": body.locator("canvas, svg, .header-line, table tbody tr").count() > 0,
                "text": body.inner_text()}
        return charts
    finally:
        page.remove_listener("response", collect)


def _dashboard_screenshot(p: Page, path: Path, charts: int) -> None:
    """The whole dashboard: the viewport grows to the page's height first (a full-page capture
    resizes it mid-shot, and Superset redraws its charts blank on resize), then waits for the
    charts to be drawn again."""
    p.set_viewport_size({"width": VIEWPORT["width"], "height": p.evaluate("document.documentElement.scrollHeight")})
    p.wait_for_function(
        """n => document.querySelectorAll('[data-test="slice-container"]').length === n
               && !document.querySelector('[data-test="slice-container"] [data-test="loading-indicator"]')
               && Array.from(document.querySelectorAll('[data-test="slice-container"]'))
                      .every(c => c.querySelector('canvas, svg, .header-line, table tbody tr'))""", arg=charts)
    p.wait_for_timeout(1000)   # echarts animates its first draw
    path.parent.mkdir(parents=True, exist_ok=True)
    p.screenshot(path=str(path))
    p.set_viewport_size(VIEWPORT)


def superset_check_dashboards(cfg: Config, slugs: list[str], screenshots: Path | None = None,
                              user: str | None = None, password: str | None = None) -> dict[str, dict]:
    """Open each dashboard as a person would and report {slug: {chart: state}} (see
    superset_dashboard); with `screenshots`, save <slug>.png of each there. Raises MedleyError
    naming every chart that errs, shows no data or draws nothing."""
    report, problems = {}, []
    with page() as p:
        try:
            superset_login(p, cfg, user, password)
        except PageTimeout as err:
            raise MedleyError(f"Superset's login page did not answer within {TIMEOUT_MS // 1000} s "
                              f"({str(err).splitlines()[0]})", "check Superset: python3 -m medley status") from None
        for slug in slugs:
            try:
                charts = report[slug] = superset_dashboard(p, cfg, slug)
            except PageTimeout as err:
                problems.append(f"{slug}: not loaded within {TIMEOUT_MS // 1000} s ({str(err).splitlines()[0]})")
                continue
            for name, state in charts.items():
                if state["error"] or not state["rows"] or not state["drawn"]:
                    problems.append(f"{slug}: {name}: " + (state["error"] or ("no data" if not state["rows"] else "nothing drawn")))
            if screenshots:
                _dashboard_screenshot(p, screenshots / f"superset-{slug}.png", len(charts))
    if problems:
        raise MedleyError(f"Superset dashboards with broken charts: {'; '.join(problems)[:600]}",
                          "open them in Superset; python3 -m medley superset data '<chart>' shows a chart's rows")
    return report


def superset_select_filter(page: Page, name: str, value: str) -> None:
    """Choose `value` in the dashboard's native select filter `name` and apply it, as a person
    does in the filter bar; returns when every chart in the filter's scope has its new data and
    has drawn it."""
    item = page.locator(".ant-form-item").filter(has=page.get_by_text(name, exact=True)).first
    item.locator(".ant-select-selector").click()
    page.keyboard.type(value)
    page.locator(".ant-select-item-option").filter(has_text=value).first.click()
    page.keyboard.press("Escape")
    responses: list = []
    collect = lambda resp: responses.append(resp) if _is_chart_data(resp.url) else None  # noqa: E731
    page.on("response", collect)
    try:
        page.get_by_role("button", name=re.compile("apply", re.I)).first.click()
        # Charts out of the filter's scope ask for nothing: wait for the first answer, then
        # until no chart is loading and no answer has come for a second.
        deadline = time.monotonic() + TIMEOUT_MS / 1000
        seen = -1
        while (not responses or seen != len(responses) or page.locator(
                '[data-test="slice-container"] [data-test="loading-indicator"]').count()) and time.monotonic() < deadline:
            seen = len(responses)
            page.wait_for_timeout(1000)
    finally:
        page.remove_listener("response", collect)


def superset_big_number(page: Page, chart: str) -> str:
    """The figure a big-number chart shows, as displayed (e.g. "1,234")."""
    return page.locator(f'[data-test-chart-name="{chart}"] .header-line').first.inner_text().strip()
