"""The control plane itself: the pinned release, real authentication, strict server-side validation."""

from __future__ import annotations

import json

import pytest
import requests

from medley.bootstrap import controlplane

pytestmark = pytest.mark.k8s

CONFIGMAP = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "probe", "namespace": "default"},
             "data": {"a": "b"}}


def test_version_is_the_pinned_release(cluster):
    version = json.loads(cluster.kubectl("version", "-o", "json").stdout)
    assert version["serverVersion"]["gitVersion"] == controlplane.kubernetes_version()
    assert version["clientVersion"]["gitVersion"] == controlplane.kubernetes_version()


def test_requests_without_the_token_are_refused(cluster):
    url = f"{cluster.server}/api/v1/namespaces"
    assert requests.get(url, verify=cluster.ca, timeout=10).status_code in (401, 403)
    with_token = requests.get(url, verify=cluster.ca, timeout=10,
                              headers={"Authorization": f"Bearer {cluster.token}"})
    assert with_token.status_code == 200


def test_strict_server_validation_accepts_valid_and_rejects_unknown_fields(cluster):
    ok = cluster.kubectl("apply", "--dry-run=server", "--validate=strict", "-f", "-",
                         input=json.dumps(CONFIGMAP), check=False)
    assert ok.returncode == 0, ok.stderr
    bad = cluster.kubectl("apply", "--dry-run=server", "--validate=strict", "-f", "-",
                          input=json.dumps({**CONFIGMAP, "spec": {"replicas": 1}}), check=False)
    assert bad.returncode != 0
    assert 'unknown field "spec"' in bad.stderr


def test_controller_manager_creates_default_service_accounts(cluster):
    cluster.kubectl("create", "namespace", "probe-sa")
    waited = cluster.kubectl("wait", "--for=create", "serviceaccount/default", "-n", "probe-sa",
                             "--timeout=60s", check=False)
    assert waited.returncode == 0, waited.stderr
