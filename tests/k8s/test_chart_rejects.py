"""Broken values must not install: one the values schema catches, and one only the API server can
catch (the offline checks pass it), which is why these tests exist."""

from __future__ import annotations

import pytest
import yaml

from medley import chart

pytestmark = pytest.mark.k8s

# Requests above limits: valid quantities for every schema, refused by the server's pod validation.
REQUESTS_ABOVE_LIMITS = {"core": {"objectStore": {"minio": {"resources": {
    "requests": {"memory": "2Gi"}, "limits": {"memory": "1Gi"}}}}}}


@pytest.fixture
def namespace(cluster, helm, request):
    name = f"broken-{request.node.name.removeprefix('test_').replace('_', '-')}"[:63]
    cluster.kubectl("create", "namespace", name)
    yield name
    helm("uninstall", chart.RELEASE, "-n", name, "--no-hooks", check=False)


def install(helm, umbrella, namespace, values_path):
    return helm("install", chart.RELEASE, str(umbrella), "-n", namespace,
                "-f", str(chart.values_file("laptop")), "-f", str(values_path),
                "--no-hooks", "--timeout", "60s", check=False)


def test_values_breaking_the_schema_are_refused(helm, umbrella, namespace, tmp_path):
    values = tmp_path / "broken.yaml"
    values.write_text(yaml.safe_dump({"core": {"spark": {"executor": {"instances": "many"}}}}))
    result = install(helm, umbrella, namespace, values)
    assert result.returncode != 0
    assert "schema" in result.stderr and "instances" in result.stderr, result.stderr
    assert helm("list", "-n", namespace, "-q").stdout.strip() == ""  # refused before any release


def test_values_only_the_api_server_refuses(helm, umbrella, namespace, tmp_path):
    values = tmp_path / "broken.yaml"
    values.write_text(yaml.safe_dump(REQUESTS_ABOVE_LIMITS))
    offline = chart.documents(chart.render(helm.binary, umbrella, "laptop", values=[values]))
    assert chart.validate_kubernetes(offline) == []
    result = install(helm, umbrella, namespace, values)
    assert result.returncode != 0
    assert "must be less than or equal to memory limit" in result.stderr, result.stderr
    assert helm("list", "-n", namespace, "--failed", "-q").stdout.split() == [chart.RELEASE]
