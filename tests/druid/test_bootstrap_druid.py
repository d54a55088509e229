"""The Druid assembly refuses an extension that pull-deps left without jars."""

import pytest

from medley.bootstrap.druid import require_jars
from medley.errors import MedleyError


def test_an_extension_without_jars_fails_the_bootstrap(tmp_path):
    (tmp_path / "druid-s3-extensions").mkdir()
    (tmp_path / "druid-datasketches").mkdir()
    (tmp_path / "druid-datasketches" / "druid-datasketches-33.0.0.jar").write_bytes(b"")
    with pytest.raises(MedleyError, match="druid-s3-extensions"):
        require_jars(tmp_path, ["druid-s3-extensions", "druid-datasketches"], tmp_path / "log")
    (tmp_path / "druid-s3-extensions" / "druid-s3-extensions-33.0.0.jar").write_bytes(b"")
    require_jars(tmp_path, ["druid-s3-extensions", "druid-datasketches"], tmp_path / "log")
