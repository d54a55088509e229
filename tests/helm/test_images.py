"""The Dockerfiles, checked without building (tests/helm/test_image_build.py builds them, slow): they
copy files that exist, take only the artefacts bootstrap caches (the locked environments, the pom's
jars), run as their documented non-root user, and carry the tags the chart's values reference."""

from __future__ import annotations

import re

import pytest
import yaml

from medley import REPO_ROOT, chart
from medley.bootstrap import images as images_build
from medley.config import load

DOCKERFILES = {img.repository: REPO_ROOT / "docker" / img.dockerfile / "Dockerfile" for img in images_build.IMAGES}
SPARK = DOCKERFILES["medley/spark"]
AIRFLOW = DOCKERFILES["medley/airflow"]


def locked(package: str, lock: str = "pipeline") -> str:
    text = (REPO_ROOT / "requirements" / f"{lock}.lock").read_text()
    return re.search(rf"^{re.escape(package)}==(\S+)", text, re.M)[1]


def copied_sources(dockerfile):
    for line in dockerfile.read_text().splitlines():
        if line.startswith("COPY ") and "--from=" not in line:
            yield from (a for a in line.split()[1:-1] if not a.startswith("--"))


def named_contexts(dockerfile):
    """COPY --from=X sources that are not stages of the Dockerfile: build contexts to pass in."""
    stages = set(re.findall(r"^FROM\s+\S+\s+AS\s+(\S+)", dockerfile.read_text(), re.M | re.I))
    return set(re.findall(r"^COPY\s+.*--from=(\S+)", dockerfile.read_text(), re.M)) - stages


@pytest.mark.parametrize("repository", DOCKERFILES)
def test_copied_files_exist(repository):
    missing = [src for src in copied_sources(DOCKERFILES[repository]) if not (REPO_ROOT / src).exists()]
    assert missing == []


@pytest.mark.parametrize("img", images_build.IMAGES, ids=lambda i: i.repository)
def test_build_passes_every_context_the_dockerfile_copies_from(img, tmp_path):
    cfg = load({"MEDLEY_PATHS__CACHE_DIR": str(tmp_path)})
    assert set(img.contexts(cfg)) == named_contexts(DOCKERFILES[img.repository])


@pytest.mark.parametrize("img", images_build.IMAGES, ids=lambda i: i.repository)
def test_image_ends_as_its_non_root_user(img):
    users = re.findall(r"^USER\s+(\S+)", DOCKERFILES[img.repository].read_text(), re.M)
    assert users and users[-1].split(":")[0] == str(img.uid) and img.uid != 0


@pytest.mark.parametrize("img", [i for i in images_build.IMAGES if i.dockerfile != "minio"], ids=lambda i: i.repository)
def test_image_builds_from_the_local_debian_base(img):
    text = DOCKERFILES[img.repository].read_text()
    assert re.search(r"^ARG BASE_IMAGE=debian:bookworm-slim$", text, re.M)
    assert re.findall(r"^FROM\s+(\S+)", text, re.M) == ["${BASE_IMAGE}"]


def test_spark_image_is_the_locked_pipeline_environment_and_the_pom_jars(tmp_path):
    from medley.bootstrap import component

    cfg = load({"MEDLEY_PATHS__CACHE_DIR": str(tmp_path)})
    contexts = images_build.image("medley/spark").contexts(cfg)
    assert contexts["venv"] == tmp_path / "venvs" / "pipeline"    # built from requirements/pipeline.lock
    assert contexts["jars"] == component("jars").artifact(cfg)     # resolved from build/maven/spark-jars/pom.xml
    text = SPARK.read_text()
    assert "COPY --from=jars . /opt/venv/lib/python3.11/site-packages/pyspark/jars/" in text
    values = yaml.safe_load((chart.CORE / "values.yaml").read_text())
    assert values["spark"]["version"] == locked("pyspark")


def test_spark_image_holds_the_entry_point_the_chart_submits():
    line = next(l for l in chart.K8S_SPARK_TEMPLATE.read_text().splitlines() if "mainApplicationFile" in l)
    path = line.split("local:///opt/medley/", 1)[1].strip()
    assert "COPY medley/ medley/" in SPARK.read_text() and "WORKDIR /opt/medley" in SPARK.read_text()
    assert (REPO_ROOT / path).is_file(), f"{path} (the job entry point) is missing from the repository"


def test_spark_image_runs_spark_kubernetes_roles():
    entry = (REPO_ROOT / "docker" / "spark" / "entrypoint.sh").read_text()
    assert 'ENTRYPOINT ["/usr/bin/tini", "--", "/opt/entrypoint.sh"]' in SPARK.read_text()
    assert "--deploy-mode client" in entry
    assert "org.apache.spark.scheduler.cluster.k8s.KubernetesExecutorBackend" in entry


def test_airflow_image_pins_the_locked_airflow_and_provider():
    text = AIRFLOW.read_text()
    assert re.search(r"^ARG AIRFLOW_VERSION=(\S+)$", text, re.M)[1] == locked("apache-airflow", "airflow")
    assert (re.search(r"^ARG CNCF_KUBERNETES_PROVIDER=(\S+)$", text, re.M)[1]
            == locked("apache-airflow-providers-cncf-kubernetes", "airflow"))
    assert "COPY --chown=airflow:root airflow_dags/ /opt/airflow/dags/" in text


def test_chart_references_the_tags_bootstrap_builds():
    umbrella = yaml.safe_load((chart.UMBRELLA / "values.yaml").read_text())
    core = yaml.safe_load((chart.CORE / "values.yaml").read_text())
    app_version = yaml.safe_load((chart.CORE / "Chart.yaml").read_text())["appVersion"]
    airflow = umbrella["airflow"]["images"]["airflow"]
    assert f"{airflow['repository']}:{airflow['tag']}" == images_build.image("medley/airflow").ref
    job = core["images"]["job"]
    assert f"{job['repository']}:{job['tag'] or app_version}" == images_build.image("medley/spark").ref


def test_spark_image_ships_the_generator_where_bootstrap_looks(tmp_path):
    from medley.bootstrap import component

    text = SPARK.read_text()
    cache = re.search(r"MEDLEY_PATHS__CACHE_DIR=(\S+)", text)[1]
    cfg = load({"MEDLEY_PATHS__CACHE_DIR": str(tmp_path)})
    binary = component("generator").artifact(cfg)
    assert images_build.image("medley/spark").contexts(cfg)["generator"] == binary.parent
    assert f"COPY --from=generator {binary.name} {cache}/{binary.relative_to(tmp_path)}" in text
    values = yaml.safe_load((chart.CORE / "values.yaml").read_text())
    assert values["eventsim"]["args"][:1] == ["generate"] and "--out" in values["eventsim"]["args"]
