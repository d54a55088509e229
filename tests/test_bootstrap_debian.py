"""Components that are one Debian package (Chromium, ZooKeeper, PostgreSQL): a failed apt-get is one
line naming the package and the command that fixes it; an installed package is left alone."""

from pathlib import Path

import pytest

from medley.bootstrap import debian
from medley.config import load
from medley.errors import MissingTool


@pytest.fixture
def refusing_apt(tmp_path, monkeypatch) -> Path:
    """An apt-get on PATH that fails as it does for a user who is not root."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    apt = bin_dir / "apt-get"
    apt.write_text("#!/bin/sh\necho 'E: Could not open lock file - open (13: Permission denied)'\nexit 100\n")
    apt.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    return apt


def test_a_failed_apt_get_is_one_line_naming_the_fix(refusing_apt, tmp_path):
    cfg = load({"MEDLEY_PATHS__STATE_DIR": str(tmp_path / "state")})
    _, _, build = debian.package("chromium", "chromium", tmp_path / "no-chromium", "Chromium")
    with pytest.raises(MissingTool) as failed:
        build(cfg)
    assert "\n" not in str(failed.value)
    assert str(failed.value) == (
        f"Chromium is not installed: apt-get update failed (exit 100) "
        f"(output in {tmp_path / 'state' / 'logs' / 'bootstrap-chromium.log'}) "
        "-> as root: apt-get install -y chromium, then rerun `python3 -m medley bootstrap`")
    assert "Permission denied" in (tmp_path / "state" / "logs" / "bootstrap-chromium.log").read_text()


def test_an_installed_package_is_not_reinstalled(refusing_apt, tmp_path):
    installed = tmp_path / "chromium"
    installed.write_text("")
    fingerprint, artifact, build = debian.package("chromium", "chromium", installed, "Chromium")
    cfg = load({"MEDLEY_PATHS__STATE_DIR": str(tmp_path / "state")})
    build(cfg)          # the refusing apt-get is never called
    assert (fingerprint(cfg), artifact(cfg)) == ("chromium", installed)
