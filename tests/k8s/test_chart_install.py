"""The chart against a real API server, per profile: install, strict server-side validation,
SparkApplications accepted by the CRD, upgrade, rollback, uninstall.

Hooks are skipped (--no-hooks) and nothing waits for pods: there is no kubelet, so no pod ever runs.
No test depends on another having run: the checks of an installed release share one install per
profile, and the upgrade -> rollback -> uninstall sequence is one test on a release of its own.
"""

from __future__ import annotations

import json
import secrets
import time

import pytest
import yaml

from medley import chart

pytestmark = pytest.mark.k8s

RELEASE = chart.RELEASE
INSTANCE = f"app.kubernetes.io/instance={RELEASE}"
CHANGED_INSTANCES = 7  # core.spark.executor.instances in the upgrade; no profile uses 7


def install_args(umbrella, profile: str, namespace: str, *extra: str) -> list[str]:
    return [RELEASE, str(umbrella), "-n", namespace, "-f", str(chart.values_file(profile)),
            "--no-hooks", "--timeout", "120s", *extra]


def live_job_templates(cluster, namespace: str) -> dict[str, dict]:
    cm = json.loads(cluster.kubectl("get", "configmap", f"{RELEASE}-job-templates", "-n", namespace,
                                    "-o", "json").stdout)
    return chart.job_templates([cm])


def executor_instances(cluster, namespace: str) -> set[int]:
    return {t["spec"]["executor"]["instances"] for t in live_job_templates(cluster, namespace).values()
            if t["kind"] == "SparkApplication"}


def generated_secrets(cluster, namespace: str) -> dict[str, dict]:
    found = json.loads(cluster.kubectl("get", "secrets", "-n", namespace, "-l", INSTANCE, "-o", "json").stdout)
    return {s["metadata"]["name"]: s["data"] for s in found["items"]}


def leftovers(cluster, namespace: str) -> set[str]:
    """Every object of any listable kind, namespaced or cluster-wide, labelled with the release."""
    found = set()
    for namespaced in ("true", "false"):
        kinds = cluster.kubectl("api-resources", "--verbs=list", f"--namespaced={namespaced}", "-o", "name").stdout
        scope = ["-n", namespace] if namespaced == "true" else []
        got = cluster.kubectl("get", ",".join(kinds.split()), *scope, "-l", INSTANCE, "-o", "name",
                              "--ignore-not-found")
        found |= set(got.stdout.split())
    # Helm's own release records.
    found |= set(cluster.kubectl("get", "secrets", "-n", namespace, "-l", f"owner=helm,name={RELEASE}",
                                 "-o", "name").stdout.split())
    return found


@pytest.fixture(scope="module")
def spark_crd(cluster):
    """The SparkApplication CRD; spark-operator's chart installs it on a real cluster, and that
    dependency is not in the offline umbrella."""
    cluster.kubectl("apply", "--server-side", "-f", str(chart.SPARK_CRD))
    cluster.kubectl("wait", "--for=condition=Established", "--timeout=60s",
                    "crd/sparkapplications.sparkoperator.k8s.io")
    return chart.spark_crd()


def install(cluster, helm, umbrella, profile: str, namespace: str) -> dict:
    """Create the namespace with the profile's prerequisites, install; Helm's status of the release."""
    cluster.kubectl("create", "namespace", namespace)
    if profile == "production":  # the profile names a Secret the operator creates first
        cluster.kubectl("create", "secret", "generic", "medley-s3", "-n", namespace,
                        f"--from-literal=access-key={secrets.token_hex(8)}",
                        f"--from-literal=secret-key={secrets.token_hex(20)}")
    helm("install", *install_args(umbrella, profile, namespace))
    return json.loads(helm("status", RELEASE, "-n", namespace, "-o", "json").stdout)


@pytest.fixture(scope="module", params=chart.PROFILES)
def release(request, cluster, helm, umbrella):
    """(profile, namespace, Helm's status right after the install) of a release installed once per
    profile; the tests using it only read it."""
    profile = request.param
    namespace = f"medley-{profile}"
    status = install(cluster, helm, umbrella, profile, namespace)
    yield profile, namespace, status
    helm("uninstall", RELEASE, "-n", namespace, "--no-hooks", check=False)


def test_install(release):
    _, _, status = release
    assert (status["info"]["status"], status["version"]) == ("deployed", 1)


def test_manifest_passes_strict_server_validation(cluster, helm, release):
    _, namespace, _ = release
    manifest = helm("get", "manifest", RELEASE, "-n", namespace).stdout
    assert len(chart.documents(manifest)) > 5
    applied = cluster.kubectl("apply", "--dry-run=server", "--validate=strict", "-n", namespace, "-f", "-",
                              input=manifest, check=False)
    assert applied.returncode == 0, applied.stderr


def test_spark_applications_are_accepted_by_the_crd(cluster, spark_crd, release):
    _, namespace, _ = release
    apps = [t for t in live_job_templates(cluster, namespace).values() if t["kind"] == "SparkApplication"]
    assert {a["metadata"]["name"].rsplit("-", 1)[-1] for a in apps} == {"bronze", "silver", "gold", "reconcile"}
    accepted = cluster.kubectl("apply", "--dry-run=server", "--validate=strict", "-n", namespace, "-f", "-",
                               input=yaml.safe_dump_all(apps), check=False)
    assert accepted.returncode == 0, accepted.stderr


def test_the_crd_rejects_a_broken_spark_application(cluster, spark_crd, release):
    _, namespace, _ = release
    app = next(t for t in live_job_templates(cluster, namespace).values() if t["kind"] == "SparkApplication")
    app["spec"]["type"] = "Cobol"             # not in the enum
    app["spec"]["executor"]["cores"] = 0      # below the minimum
    rejected = cluster.kubectl("apply", "--dry-run=server", "--validate=strict", "-n", namespace, "-f", "-",
                               input=yaml.safe_dump(app), check=False)
    assert rejected.returncode != 0
    assert "spec.type" in rejected.stderr and "spec.executor.cores" in rejected.stderr, rejected.stderr


def retained_claims(cluster, helm, namespace: str) -> set[str]:
    """PVCs of the release's StatefulSets whose retention policy keeps them after deletion
    (Kubernetes' default, Retain: the data outlives the release)."""
    claims = json.loads(cluster.kubectl("get", "pvc", "-n", namespace, "-o", "json").stdout)["items"]
    kept = set()
    for sts in chart.find(chart.documents(helm("get", "manifest", RELEASE, "-n", namespace).stdout),
                          "StatefulSet"):
        spec = sts["spec"]
        if spec.get("persistentVolumeClaimRetentionPolicy", {}).get("whenDeleted", "Retain") != "Retain":
            continue
        prefixes = [f"{t['metadata']['name']}-{sts['metadata']['name']}-"
                    for t in spec.get("volumeClaimTemplates", [])]
        kept |= {f"persistentvolumeclaim/{c['metadata']['name']}" for c in claims
                 if any(c["metadata"]["name"].startswith(p) for p in prefixes)}
    return kept


@pytest.mark.parametrize("profile", chart.PROFILES)
def test_upgrade_rollback_uninstall(cluster, helm, umbrella, profile):
    namespace = f"medley-{profile}-lifecycle"
    install(cluster, helm, umbrella, profile, namespace)
    try:
        # upgrade: the changed value is live, and the generated secrets are kept
        before = generated_secrets(cluster, namespace)
        helm("upgrade", *install_args(umbrella, profile, namespace,
                                      "--set", f"core.spark.executor.instances={CHANGED_INSTANCES}"))
        status = json.loads(helm("status", RELEASE, "-n", namespace, "-o", "json").stdout)
        assert (status["info"]["status"], status["version"]) == ("deployed", 2)
        assert executor_instances(cluster, namespace) == {CHANGED_INSTANCES}
        # The S3 keys are generated once (`lookup` of the live Secret), never rotated by an upgrade.
        assert generated_secrets(cluster, namespace) == before

        # rollback to the first revision restores the profile's value
        helm("rollback", RELEASE, "1", "-n", namespace, "--no-hooks")
        status = json.loads(helm("status", RELEASE, "-n", namespace, "-o", "json").stdout)
        assert (status["info"]["status"], status["version"]) == ("deployed", 3)
        expected = yaml.safe_load(chart.values_file(profile).read_text())["core"]["spark"]["executor"]["instances"]
        assert executor_instances(cluster, namespace) == {expected}

        # uninstall leaves nothing but the retained PVCs (the generated S3 keys go too)
        kept = retained_claims(cluster, helm, namespace)
        helm("uninstall", RELEASE, "-n", namespace, "--no-hooks", "--wait", "--timeout", "60s")
        # Objects the controllers made (ReplicaSets, Pods) go with their owners by garbage collection.
        deadline = time.monotonic() + 60
        while (left := leftovers(cluster, namespace)) != kept and time.monotonic() < deadline:
            time.sleep(1)
        assert left == kept
    finally:
        helm("uninstall", RELEASE, "-n", namespace, "--no-hooks", check=False)
