"""Chromium for the browser checks and screenshots: Debian's `chromium` package, installed if missing.

Playwright drives it through `executable_path` (medley/browser.py); Playwright's own browser
downloads (`playwright install`) are never used.
"""

from __future__ import annotations

from pathlib import Path

from medley.bootstrap import debian

NAME = "chromium"
DESCRIPTION = "Chromium (Debian package) for browser checks"
BIN = Path("/usr/bin/chromium")

fingerprint, artifact, build = debian.package(NAME, "chromium", BIN, "Chromium")
