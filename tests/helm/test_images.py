"""The Dockerfiles cannot be built offline; check they pin the locked versions and copy files that exist."""

from __future__ import annotations

import re

import pytest
import yaml

from medley import REPO_ROOT, chart

SPARK = REPO_ROOT / "docker" / "spark" / "Dockerfile"
AIRFLOW = REPO_ROOT / "docker" / "airflow" / "Dockerfile"


def locked(package: str) -> str:
    text = (REPO_ROOT / "requirements" / "pipeline.lock").read_text()
    return re.search(rf"^{re.escape(package)}==(\S+)", text, re.M)[1]


def copied_sources(dockerfile):
    for line in dockerfile.read_text().splitlines():
        if line.startswith("COPY ") and "--from=" not in line:
            yield from (a for a in line.split()[1:-1] if not a.startswith("--"))


@pytest.mark.parametrize("dockerfile", [SPARK, AIRFLOW], ids=["spark", "airflow"])
def test_copied_files_exist(dockerfile):
    missing = [src for src in copied_sources(dockerfile) if not (REPO_ROOT / src).exists()]
    assert missing == []


def test_spark_image_matches_the_locked_pyspark_and_the_pom():
    text = SPARK.read_text()
    (base,) = re.findall(r"^ARG SPARK_IMAGE=apache/spark:(\S+)", text, re.M)
    assert base.startswith(locked("pyspark") + "-scala2.13-java17-python3")
    assert "COPY build/maven/spark-jars/pom.xml pom.xml" in text
    assert "dependency:copy-dependencies" in text and "COPY --from=jars /build/jars/ /opt/spark/jars/" in text
    assert "USER 185" in text


def test_spark_image_holds_the_entry_point_the_chart_submits():
    line = next(l for l in chart.K8S_SPARK_TEMPLATE.read_text().splitlines() if "mainApplicationFile" in l)
    path = line.split("local:///opt/medley/", 1)[1].strip()
    assert "COPY medley/ medley/" in SPARK.read_text() and "WORKDIR /opt/medley" in SPARK.read_text()
    assert (REPO_ROOT / path).is_file(), f"{path} (the job entry point) is missing from the repository"


def test_airflow_image_pins_airflow_and_the_provider():
    text = AIRFLOW.read_text()
    assert re.search(r"^ARG AIRFLOW_VERSION=3\.\d+\.\d+$", text, re.M)
    assert re.search(r"^ARG CNCF_KUBERNETES_PROVIDER=\d+\.\d+\.\d+$", text, re.M)
    values = yaml.safe_load((chart.UMBRELLA / "values.yaml").read_text())
    assert values["airflow"]["images"]["airflow"]["repository"] == "medley/airflow"
    assert "COPY --chown=airflow:root airflow_dags/ /opt/airflow/dags/" in text


def test_spark_image_ships_the_generator_where_bootstrap_looks(tmp_path):
    from medley.bootstrap import component
    from medley.config import load

    text = SPARK.read_text()
    assert "COPY medley/generator/go/ ./" in text
    cache = re.search(r"MEDLEY_PATHS__CACHE_DIR=(\S+)", text)[1]
    cfg = load({"MEDLEY_PATHS__CACHE_DIR": str(tmp_path)})
    relative = component("generator").artifact(cfg).relative_to(tmp_path)
    assert f"COPY --from=generator /out/medley-eventsim {cache}/{relative}" in text
    values = yaml.safe_load((chart.CORE / "values.yaml").read_text())
    assert values["eventsim"]["args"][:1] == ["generate"] and "--out" in values["eventsim"]["args"]
