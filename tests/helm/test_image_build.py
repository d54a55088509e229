"""The images `medley bootstrap images` builds with buildah, no registry: each archive is a
docker-archive named by its exact repository:tag, runs as its documented non-root user, and its
smoke commands work in a container made from the archive itself (what the node imports).

Slow (a cold build takes many minutes; warm, the smoke runs still unpack every archive), so it runs
only with MEDLEY_TEST_SLOW=1.
"""

from __future__ import annotations

import pytest

from medley.bootstrap import ensure
from medley.bootstrap import images as images_build
from medley.config import load

pytestmark = [pytest.mark.slow, pytest.mark.timeout(3600)]   # a cold build is longer than the default


@pytest.fixture(scope="module")
def cfg():
    """The user's cache (~/.cache/medley): the images are shared artefacts like the venvs they copy."""
    config = load()
    ensure(config, "images")
    return config


@pytest.mark.parametrize("img", images_build.IMAGES, ids=lambda i: i.repository)
def test_archive_is_tagged_for_the_node(cfg, img):
    names, _ = images_build.archive_config(cfg, img)
    # the name kubelet looks up for `image: medley/spark:0.1.0` (buildah adds its own localhost/ one)
    assert f"docker.io/{img.ref}" in names


@pytest.mark.parametrize("img", images_build.IMAGES, ids=lambda i: i.repository)
def test_image_runs_as_its_non_root_user(cfg, img):
    _, config = images_build.archive_config(cfg, img)
    assert config["config"]["User"].split(":")[0] == str(img.uid) != "0"


def test_spark_image(cfg):
    version, imports, delta = images_build.smoke(cfg, images_build.image("medley/spark"))
    assert "version 4.1.4" in version
    assert imports.strip() == "medley 4.1.4"
    assert "delta rows 3" in delta     # entrypoint.sh's driver role, Delta's jars, as UID 185


def test_airflow_image_imports_the_dags(cfg):
    version, dags = images_build.smoke(cfg, images_build.image("medley/airflow"))
    assert version.strip().splitlines()[-1] == "3.3.2"
    assert "medley_hourly" in dags


@pytest.mark.parametrize("repository, expected", [
    ("medley/minio", "minio version"),
    ("medley/postgresql", "postgres (PostgreSQL) 15."),
    ("medley/zookeeper", "3.8"),
    ("medley/druid", "33.0.0"),
    ("medley/superset", "6.1.0"),
])
def test_laptop_profile_image(cfg, repository, expected):
    (output,) = images_build.smoke(cfg, images_build.image(repository))
    assert expected in output
