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
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from playwright.sync_api import Page, sync_playwright

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
