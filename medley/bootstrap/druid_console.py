"""Druid's web console, built from Druid's source release with the machine's Node.js and npm.

Central has no web-console jar for Druid, so this does what web-console/pom.xml does in Druid's own
build: `npm ci`, `script/build`, `script/cp-to`, into cache_dir/druid-console-<version>/
org/apache/druid/console/. That directory goes on the router's classpath
(medley/services/druid.py), where the router looks for the console (WebConsoleJettyServerInitializer:
Resource.newClassPathResource("org/apache/druid/console")). npm's own cache stays in ~/.npm.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tarfile
from pathlib import Path

from medley.bootstrap import druid, files_digest
from medley.config import Config
from medley.errors import MissingTool
from medley.proc import require, run_logged

NAME = "druid-console"
DESCRIPTION = "Druid web console from the source release (npm + webpack, about 7 minutes the first time)"
VERSION = druid.VERSION
NODE_MAJOR = 20   # web-console/package.json: "engines": {"node": ">=20"}
NODE_HINT = (f"install Node.js >= {NODE_MAJOR} with npm (Debian 12's nodejs is 18: use NodeSource's "
             "nodejs package or https://nodejs.org), then rerun `python3 -m medley bootstrap druid-console`")
SRC = f"apache-druid-{VERSION}-src"
# script/build reads the SQL function docs from ../docs/querying to generate lib/sql-docs.ts.
MEMBERS = (f"{SRC}/web-console/", f"{SRC}/docs/querying/")


def fingerprint(cfg: Config) -> str:
    return f"{VERSION}-{files_digest(Path(__file__))}"


def artifact(cfg: Config) -> Path:
    return cfg.cache_dir / f"druid-console-{VERSION}"


def _log(cfg: Config) -> Path:
    return cfg.state_dir / "logs" / "bootstrap-druid-console.log"


def _require_node() -> str:
    node = shutil.which("node")
    if node is None or shutil.which("npm") is None:
        raise MissingTool("Node.js and npm are needed to build Druid's web console and are not on PATH", NODE_HINT)
    version = subprocess.run([node, "--version"], capture_output=True, text=True).stdout.strip()
    match = re.match(r"v(\d+)\.", version)
    if not match or int(match.group(1)) < NODE_MAJOR:
        raise MissingTool(f"Node.js {version or '(unknown version)'} is too old for Druid's web console", NODE_HINT)
    return node


def build(cfg: Config) -> None:
    _require_node()
    mvn = require("mvn")
    home = artifact(cfg)
    partial = home.with_name(home.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    work = partial / "build"
    work.mkdir(parents=True)
    # The same source release the druid component builds its extensions from: through Maven, so it
    # comes from ~/.m2 when `bootstrap druid` already fetched it.
    run_logged([mvn, "-B", f"-Dmaven.repo.local={Path.home() / '.m2' / 'repository'}", "-f", druid.POM,
                f"-Ddruid.home={work}", "dependency:copy@source-release"],
               _log(cfg), what=f"mvn: Druid {VERSION} source release")
    with tarfile.open(work / "src" / f"distribution-{VERSION}.tar.gz") as tar:
        tar.extractall(work, members=[m for m in tar if m.name.startswith(MEMBERS)], filter="data")
    console = work / SRC / "web-console"
    # playwright-chromium is a dev dependency for Druid's e2e tests: never let it fetch a browser.
    env = {**os.environ, "PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD": "1"}
    run_logged(["npm", "ci", "--no-audit", "--no-fund"], _log(cfg), cwd=console, env=env,
               what="npm ci for Druid's web console")
    run_logged(["./script/build"], _log(cfg), cwd=console, env=env, what="building Druid's web console (webpack)")
    run_logged(["./script/cp-to", partial / "org" / "apache" / "druid" / "console"], _log(cfg), cwd=console,
               env=env, what="copying Druid's web console")
    shutil.rmtree(work)
    shutil.rmtree(home, ignore_errors=True)
    partial.rename(home)
