"""The kubernetes runner (medley/kube_runner.py) and Airflow's RBAC against a real API server.

The chart is installed into a namespace of its own; the runner then acts with the token of the
Airflow worker's service account (so only the chart's Role lets it do anything), and the
spark-submit pod's command runs here with the Spark service account's token, exactly as the pod
would run it: a real spark-submit (pyspark's, with its spark-kubernetes jar) creates the driver
pod through the API server. There is no kubelet, so pods stay Pending; where a test needs a pod
to end, it writes the pod's status the way a kubelet does (PATCH pods/status, as the admin).
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest
import yaml

from medley import REPO_ROOT, chart, kube_runner, orchestration
from medley.config import load as load_config

pytestmark = pytest.mark.k8s

NAMESPACE = "medley-runner"
AIRFLOW_SA = "medley-airflow-worker"
SPARK_SA = "medley-spark"
WAIT_S = 120


def job_templates(cluster, namespace: str, into: Path) -> Path:
    """The release's job-templates ConfigMap as files, as Airflow's pods mount it."""
    cm = json.loads(cluster.kubectl("get", "configmap", f"{chart.RELEASE}-job-templates", "-n", namespace,
                                    "-o", "json").stdout)
    for key, text in cm["data"].items():
        (into / key).write_text(text)
    return into


@pytest.fixture(scope="module")
def release(cluster, helm, umbrella, tmp_path_factory):
    """The laptop profile installed in NAMESPACE; its job templates as files, as Airflow's pods
    mount them."""
    cluster.kubectl("create", "namespace", NAMESPACE)
    helm("install", chart.RELEASE, str(umbrella), "-n", NAMESPACE, "-f", str(chart.values_file("laptop")),
         "--no-hooks", "--timeout", "120s")
    yield job_templates(cluster, NAMESPACE, tmp_path_factory.mktemp("job-templates"))
    helm("uninstall", chart.RELEASE, "-n", NAMESPACE, "--no-hooks", check=False)


def kubeconfig_of(cluster, account: str, path: Path, namespace: str = NAMESPACE) -> Path:
    """A kubeconfig that authenticates as the service account (a token from the TokenRequest API)."""
    token = cluster.kubectl("create", "token", account, "-n", namespace, "--duration", "2h").stdout.strip()
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": account,
        "clusters": [{"name": "test", "cluster": {"server": cluster.server, "certificate-authority": str(cluster.ca)}}],
        "users": [{"name": account, "user": {"token": token}}],
        "contexts": [{"name": account, "context": {"cluster": "test", "user": account, "namespace": namespace}}]}))
    return path


@pytest.fixture(scope="module")
def runner_env(cluster, release, tmp_path_factory):
    """The environment of an Airflow task in the cluster, but with the worker's identity coming
    from a kubeconfig instead of a mounted token."""
    home = tmp_path_factory.mktemp("airflow-worker")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MEDLEY_", "KUBERNETES_"))}
    return env | {
        "KUBECONFIG": str(kubeconfig_of(cluster, AIRFLOW_SA, home / "kubeconfig")),
        "MEDLEY_ORCHESTRATION__RUNNER": "kubernetes",
        "MEDLEY_ORCHESTRATION__KUBERNETES__JOB_TEMPLATES": str(release),
        "MEDLEY_ORCHESTRATION__KUBERNETES__NAMESPACE": NAMESPACE,
    }


def pods(cluster, selector: str) -> list[dict]:
    return json.loads(cluster.kubectl("get", "pods", "-n", NAMESPACE, "-l", selector, "-o", "json").stdout)["items"]


def wait_for_pod(cluster, selector: str) -> dict:
    deadline = time.monotonic() + WAIT_S
    while not (found := pods(cluster, selector)):
        assert time.monotonic() < deadline, f"no pod {selector} after {WAIT_S}s"
        time.sleep(0.5)
    (pod,) = found
    return pod


def report_container(cluster, pod: dict, container: str, phase: str, state: dict) -> None:
    """What a kubelet reports about the container: the pod's status, written through the API."""
    status = {"phase": phase, "containerStatuses": [{
        "name": container, "ready": False, "restartCount": 0, "image": "medley/spark:0.1.0", "imageID": "",
        "state": state}]}
    cluster.kubectl("patch", "pod", pod["metadata"]["name"], "-n", NAMESPACE, "--subresource=status",
                    "--type=merge", "-p", json.dumps({"status": status}))


def end_container(cluster, pod: dict, container: str, exit_code: int, reason: str = "Error") -> None:
    report_container(cluster, pod, container, "Succeeded" if exit_code == 0 else "Failed",
                     {"terminated": {"exitCode": exit_code, "reason": reason,
                                     "startedAt": "2026-12-03T00:00:00Z", "finishedAt": "2026-12-03T00:01:00Z"}})


class Task(threading.Thread):
    """An Airflow task's body, orchestration.run_job, in a thread; its outcome in .error."""

    def __init__(self, env: dict, module: str, args: list[str]):
        super().__init__(daemon=True)
        self.env, self.module, self.args = env, module, args
        self.lines: list[str] = []
        self.error: BaseException | None = None

    def run(self):
        try:
            orchestration.run_job(self.module, self.args, self.env, log=self.lines.append)
        except BaseException as err:   # noqa: BLE001 - the test inspects whatever ended the task
            self.error = err

    def outcome(self) -> BaseException | None:
        self.join(WAIT_S)
        assert not self.is_alive(), "the task did not end"
        return self.error


def conf(args: list[str]) -> dict[str, str]:
    return dict(a.split("=", 1) for prev, a in zip(args, args[1:]) if prev == "--conf")


def spark_submit_here(cluster, submitter: dict, templates: Path, tmp_path: Path) -> subprocess.CompletedProcess:
    """Run the submitter pod's command on this machine with what the pod would have: the Spark
    service account's token and CA, and the pod template from the job-templates ConfigMap; only
    those paths and the API server's address are swapped."""
    token = tmp_path / "spark-token"
    token.write_text(cluster.kubectl("create", "token", SPARK_SA, "-n", NAMESPACE).stdout.strip())
    mounted = {"/var/run/secrets/kubernetes.io/serviceaccount/token": str(token),
               "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt": str(cluster.ca),
               "/etc/medley/job-templates": str(templates)}
    (container,) = submitter["spec"]["containers"]
    args = []
    for arg in container["args"]:
        for there, here in mounted.items():
            arg = arg.replace(there, here)
        args.append(f"k8s://{cluster.server}" if arg.startswith("k8s://") else arg)
    import pyspark

    spark_submit = Path(pyspark.__file__).parent / "bin" / "spark-submit"
    assert container["command"] == ["/opt/spark/bin/spark-submit"]
    return subprocess.run([str(spark_submit), *args], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "SPARK_HOME": str(spark_submit.parent.parent)})


# --- RBAC --------------------------------------------------------------------------------------

ALLOWED = [("create", "pods"), ("get", "pods"), ("list", "pods"), ("delete", "pods"),
           ("get", "pods", "--subresource=log")]
DENIED = [("list", "secrets"), ("get", "secrets"), ("create", "deployments"), ("create", "jobs"),
          ("create", "services"), ("create", "configmaps"), ("patch", "pods"), ("watch", "pods"),
          ("create", "pods", "--subresource=exec"), ("create", "sparkapplications.sparkoperator.k8s.io"),
          ("create", "roles"), ("create", "rolebindings"), ("update", "pods", "--subresource=status")]


def can_i(cluster, account: str, verb: str, resource: str, *extra: str, namespace: str = NAMESPACE) -> bool:
    answer = cluster.kubectl("auth", "can-i", verb, resource, *extra, "-n", namespace,
                             f"--as=system:serviceaccount:{NAMESPACE}:{account}", check=False)
    assert answer.stdout.strip() in ("yes", "no"), answer.stderr
    return answer.stdout.strip() == "yes"


def test_airflow_worker_may_do_exactly_what_the_runner_needs(cluster, release):
    assert [a for a in ALLOWED if not can_i(cluster, AIRFLOW_SA, *a)] == []
    assert [d for d in DENIED if can_i(cluster, AIRFLOW_SA, *d)] == []
    # nothing outside its namespace
    assert not can_i(cluster, AIRFLOW_SA, "create", "pods", namespace="default")
    assert not can_i(cluster, AIRFLOW_SA, "list", "pods", namespace="kube-system")


def test_the_spark_account_may_submit_but_not_read_secrets(cluster, release):
    for resource in ("pods", "services", "configmaps"):
        assert can_i(cluster, SPARK_SA, "create", resource)
    assert not can_i(cluster, SPARK_SA, "get", "secrets")
    assert not can_i(cluster, SPARK_SA, "create", "pods", namespace="default")


# --- the native Spark path ---------------------------------------------------------------------

def test_a_spark_hop_is_submitted_and_a_failed_gate_is_not_retried(cluster, release, runner_env, tmp_path):
    """bronze: the task (as the Airflow worker) creates the spark-submit pod; its command, run with
    the Spark account's token, creates the driver pod; the driver's exit code 6 (a failed gate)
    fails the task without retry, and everything the task created is deleted."""
    task = Task(runner_env, "medley.jobs", ["bronze"])
    task.start()
    submitter = wait_for_pod(cluster, "medley.io/hop=bronze,app.kubernetes.io/component=spark-submit")
    spec = submitter["spec"]
    assert spec["serviceAccountName"] == SPARK_SA
    assert spec["containers"][0]["image"] == "medley/spark:0.1.0"
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["containers"][0]["securityContext"]["readOnlyRootFilesystem"] is True
    assert {"cpu", "memory"} <= set(spec["containers"][0]["resources"]["limits"])
    args = spec["containers"][0]["args"]
    assert args[-2:] == ["local:///opt/medley/medley/jobs.py", "bronze"]
    assert args[:4] == ["--master", "k8s://https://kubernetes.default.svc", "--deploy-mode", "cluster"]
    settings = conf(args)
    driver_name = settings["spark.kubernetes.driver.pod.name"]
    assert settings["spark.kubernetes.submission.waitAppCompletion"] == "false"
    assert settings["spark.kubernetes.namespace"] == NAMESPACE

    submitted = spark_submit_here(cluster, submitter, release, tmp_path)
    cause = [line for line in submitted.stderr.splitlines() if "Exception" in line or "Failure" in line]
    assert submitted.returncode == 0, "\n".join(cause[:5]) or submitted.stderr[-3000:]
    driver = json.loads(cluster.kubectl("get", "pod", driver_name, "-n", NAMESPACE, "-o", "json").stdout)
    (container,) = driver["spec"]["containers"]
    assert driver["spec"]["serviceAccountName"] == SPARK_SA
    assert container["image"] == "medley/spark:0.1.0"
    assert container["args"][-2:] == ["local:///opt/medley/medley/jobs.py", "bronze"]
    assert container["args"][0] == "driver"
    env = {e["name"]: e for e in container["env"]}
    assert env["MEDLEY_CONFIG"]["value"] == "/etc/medley/medley.yaml"
    assert env["MEDLEY_S3_SECRET_KEY"]["valueFrom"]["secretKeyRef"] == {"name": "medley-s3", "key": "secret-key"}
    assert {"medley-config", "tmp", "spark-work"} <= {v["name"] for v in driver["spec"]["volumes"]}
    labels = driver["metadata"]["labels"]
    assert labels["medley.io/hop"] == "bronze" and labels["medley.io/run"] == submitter["metadata"]["labels"]["medley.io/run"]
    assert labels["medley.io/kube-api-client"] == "true" and labels["medley.io/s3-client"] == "true"
    assert container["securityContext"]["readOnlyRootFilesystem"] is True

    end_container(cluster, submitter, "spark-submit", 0, "Completed")
    end_container(cluster, driver, container["name"], 6)
    failure = task.outcome()
    assert isinstance(failure, orchestration.JobFailed) and failure.exit_code == 6, task.lines
    assert not orchestration.retried(failure.exit_code)
    assert pods(cluster, "medley.io/hop=bronze") == []


# --- plain pods --------------------------------------------------------------------------------

def test_a_non_spark_hop_runs_as_a_pod_and_a_crash_is_retried(cluster, release, runner_env):
    task = Task(runner_env, "medley.jobs", ["superset"])
    task.start()
    pod = wait_for_pod(cluster, "medley.io/hop=superset")
    (container,) = pod["spec"]["containers"]
    assert container["command"] == ["python", "-m", "medley.jobs", "superset"]
    assert container["image"] == "medley/spark:0.1.0"
    assert {e["name"] for e in container["env"]} >= {"MEDLEY_CONFIG", "MEDLEY_S3_ACCESS_KEY"}
    assert pod["spec"]["restartPolicy"] == "Never"
    assert pod["metadata"]["annotations"]["medley.io/airflow-run"].startswith("manual ")
    # Running: the task asks for the log, which no kubelet serves here, and goes on polling.
    report_container(cluster, pod, container["name"], "Running", {"running": {"startedAt": "2026-12-03T00:00:00Z"}})
    time.sleep(2 * kube_runner.POLL_S)
    assert task.is_alive()
    end_container(cluster, pod, container["name"], 1)
    failure = task.outcome()
    assert isinstance(failure, orchestration.JobFailed) and failure.exit_code == 1
    assert orchestration.retried(failure.exit_code)
    assert pods(cluster, "medley.io/hop=superset") == []


def test_a_successful_job_ends_the_task_and_leaves_no_pod(cluster, release, runner_env):
    task = Task(runner_env, "medley.maintenance", ["expire-results", "--as-of", "2026-12-03T00:00:00+00:00"])
    task.start()
    pod = wait_for_pod(cluster, "medley.io/hop=expire-results")
    (container,) = pod["spec"]["containers"]
    assert container["command"][:4] == ["python", "-m", "medley.maintenance", "expire-results"]
    end_container(cluster, pod, container["name"], 0, "Completed")
    assert task.outcome() is None
    assert pods(cluster, "medley.io/hop=expire-results") == []


# Run in the Airflow venv: one hop through orchestration.run_job, inside the task context Airflow's
# task runner sets (argv: hop, DAG id, run id, try number).
AIRFLOW_TASK = """
import sys
from types import SimpleNamespace
from airflow.sdk.execution_time.context import set_current_context
from medley import orchestration

hop, dag_id, run_id, try_number = sys.argv[1:]
with set_current_context({"ti": SimpleNamespace(dag_id=dag_id, run_id=run_id, try_number=int(try_number))}):
    orchestration.run_job("medley.jobs", [hop])
"""
DAG_RUN = ("medley_hourly", "scheduled__2026-12-03T05:00:00+00:00")


def task_in_airflow_venv(env: dict, hop: str, try_number: int = 1) -> subprocess.Popen:
    """orchestration.run_job for one hop in a process of the Airflow venv's python, as a task of
    DAG_RUN runs it in the worker pod (no pyspark there; Airflow's own context and exceptions)."""
    python = load_config().cache_dir / "venvs" / "airflow" / "bin" / "python"
    if not python.exists():
        pytest.skip(f"the Airflow environment is missing ({python}): python3 -m medley bootstrap airflow")
    return subprocess.Popen([str(python), "-c", AIRFLOW_TASK, hop, *DAG_RUN, str(try_number)], cwd=REPO_ROOT,
                            text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            env={**env, "PYTHONPATH": str(REPO_ROOT)})


def test_a_retry_deletes_what_the_earlier_try_left_and_names_its_run(cluster, release, runner_env):
    """A worker that died leaves its try's pod behind; the next try of the same task deletes it.
    Both are found by the run's label, a hash of DAG and run id; the annotation names the try."""
    run_key = hashlib.sha256(" ".join(DAG_RUN).encode()).hexdigest()[:10]
    left = {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": f"medley-superset-{run_key}-0ld0ld", "namespace": NAMESPACE,
                         "labels": {"medley.io/hop": "superset", "medley.io/run": run_key}},
            "spec": {"containers": [{"name": "superset", "image": "medley/spark:0.1.0"}]}}
    cluster.kubectl("create", "-f", "-", input=json.dumps(left))
    task = task_in_airflow_venv(runner_env, "superset", try_number=2)
    deadline = time.monotonic() + WAIT_S
    while [p["metadata"]["name"] for p in pods(cluster, f"medley.io/run={run_key}")] in ([], [left["metadata"]["name"]]):
        assert time.monotonic() < deadline and task.poll() is None, "no new try"
        time.sleep(0.5)
    (pod,) = pods(cluster, f"medley.io/run={run_key}")
    assert pod["metadata"]["annotations"]["medley.io/airflow-run"] == f"{' '.join(DAG_RUN)} try 2"
    end_container(cluster, pod, pod["spec"]["containers"][0]["name"], 0, "Completed")
    assert task.wait(timeout=60) == 0
    out = task.stdout.read()
    assert f"deleting pod {left['metadata']['name']} left by an earlier try" in out, out
    assert pods(cluster, f"medley.io/run={run_key}") == []


def test_in_airflow_a_failed_gate_fails_the_task_without_retry(cluster, release, runner_env):
    task = task_in_airflow_venv(runner_env, "druid")
    pod = wait_for_pod(cluster, "medley.io/hop=druid")
    end_container(cluster, pod, pod["spec"]["containers"][0]["name"], 6)
    assert task.wait(timeout=60) != 0
    out = task.stdout.read()
    assert "AirflowFailException: medley.jobs druid exited with code 6 and printed no error line" in out, out
    assert pods(cluster, "medley.io/hop=druid") == []


def test_stopping_the_task_deletes_its_pod(cluster, release, runner_env):
    """Airflow stops a task with SIGTERM: the pod goes at once, and the task fails."""
    task = task_in_airflow_venv(runner_env, "druid")
    wait_for_pod(cluster, "medley.io/hop=druid")
    task.send_signal(signal.SIGTERM)
    assert task.wait(timeout=60) != 0
    out = task.stdout.read()
    assert "was deleted before it ended" in out, out
    assert pods(cluster, "medley.io/hop=druid") == []


# --- exit codes from pod status (no cluster needed) -------------------------------------------

def pod_status(container: str, state: dict, phase: str = "Running", **status) -> dict:
    return {"metadata": {"name": "medley-bronze-0123456789-abcdef-driver"},
            "status": {"phase": phase, **status,
                       "containerStatuses": [{"name": container, "ready": False, "restartCount": 0, "state": state}]}}


@pytest.mark.parametrize("code, retried", [(0, True), (6, False), (7, False), (1, True), (10, True), (137, True)])
def test_the_driver_exit_code_decides_the_retry(code, retried):
    pod = pod_status("spark", {"terminated": {"exitCode": code, "reason": "Error"}}, "Failed")
    assert kube_runner.exit_code(pod, kube_runner.DRIVER_CONTAINERS) == code
    assert orchestration.retried(code) is retried


def test_a_pod_that_has_not_ended_has_no_exit_code():
    assert kube_runner.exit_code(pod_status("spark", {"running": {"startedAt": "2026-12-03T00:00:00Z"}}),
                                 kube_runner.DRIVER_CONTAINERS) is None
    assert kube_runner.exit_code(pod_status("spark", {"waiting": {"reason": "ContainerCreating"}}, "Pending"),
                                 kube_runner.DRIVER_CONTAINERS) is None


def test_a_pod_that_cannot_run_fails_the_try_for_a_retry():
    stuck = pod_status("spark", {"waiting": {"reason": "CreateContainerConfigError",
                                             "message": 'secret "medley-s3" not found'}}, "Pending")
    with pytest.raises(kube_runner.PodFailed, match="CreateContainerConfigError: secret"):
        kube_runner.exit_code(stuck, kube_runner.DRIVER_CONTAINERS)
    evicted = pod_status("spark", {"waiting": {"reason": "ContainerCreating"}}, "Failed", reason="Evicted",
                         message="The node was low on resource: memory.")
    with pytest.raises(kube_runner.PodFailed, match="Evicted"):
        kube_runner.exit_code(evicted, kube_runner.DRIVER_CONTAINERS)


# --- the spark-operator path -------------------------------------------------------------------

OPERATOR_NAMESPACE = "medley-runner-operator"


@pytest.fixture(scope="module")
def operator_release(cluster, helm, umbrella, tmp_path_factory):
    """A release with medley.orchestration.spark_submit=operator and the SparkApplication CRD (the
    spark-operator's chart installs it on a real cluster; no operator runs here)."""
    cluster.kubectl("apply", "--server-side", "-f", str(chart.SPARK_CRD))
    cluster.kubectl("wait", "--for=condition=Established", "--timeout=60s", "crd/sparkapplications.sparkoperator.k8s.io")
    cluster.kubectl("create", "namespace", OPERATOR_NAMESPACE)
    helm("install", chart.RELEASE, str(umbrella), "-n", OPERATOR_NAMESPACE, "-f", str(chart.values_file("laptop")),
         "--set", "core.medley.orchestration.spark_submit=operator", "--no-hooks", "--timeout", "120s")
    templates = job_templates(cluster, OPERATOR_NAMESPACE, tmp_path_factory.mktemp("operator-job-templates"))
    kubeconfig = kubeconfig_of(cluster, AIRFLOW_SA, templates.parent / "operator-kubeconfig", OPERATOR_NAMESPACE)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MEDLEY_", "KUBERNETES_"))}
    yield env | {"KUBECONFIG": str(kubeconfig), "MEDLEY_ORCHESTRATION__RUNNER": "kubernetes",
                 "MEDLEY_ORCHESTRATION__SPARK_SUBMIT": "operator",
                 "MEDLEY_ORCHESTRATION__KUBERNETES__JOB_TEMPLATES": str(templates),
                 "MEDLEY_ORCHESTRATION__KUBERNETES__NAMESPACE": OPERATOR_NAMESPACE,
                 "MEDLEY_ORCHESTRATION__KUBERNETES__START_TIMEOUT_SECONDS": "10"}
    helm("uninstall", chart.RELEASE, "-n", OPERATOR_NAMESPACE, "--no-hooks", check=False)


def test_with_the_operator_the_task_creates_the_spark_application(cluster, operator_release):
    """The worker may create SparkApplications only in this mode; the one it creates runs the hop's
    jobs.py; with no operator to start a driver the try fails (retried) and the application is
    deleted."""
    worker = f"--as=system:serviceaccount:{OPERATOR_NAMESPACE}:{AIRFLOW_SA}"
    allowed = cluster.kubectl("auth", "can-i", "create", "sparkapplications.sparkoperator.k8s.io",
                              "-n", OPERATOR_NAMESPACE, worker, check=False)
    assert allowed.stdout.strip() == "yes"
    task = Task(operator_release, "medley.jobs", ["silver"])
    task.start()
    deadline = time.monotonic() + WAIT_S
    while not (apps := json.loads(cluster.kubectl("get", "sparkapplications", "-n", OPERATOR_NAMESPACE,
                                                  "-l", "medley.io/hop=silver", "-o", "json").stdout)["items"]):
        assert time.monotonic() < deadline and task.is_alive(), task.lines or task.error
        time.sleep(0.5)
    (app,) = apps
    assert app["spec"]["mainApplicationFile"] == "local:///opt/medley/medley/jobs.py"
    assert app["spec"]["arguments"] == ["silver"]
    assert app["spec"]["driver"]["serviceAccount"] == SPARK_SA
    assert app["spec"]["driver"]["labels"]["medley.io/run"] == app["metadata"]["labels"]["medley.io/run"]
    failure = task.outcome()
    assert isinstance(failure, kube_runner.PodFailed) and "does not exist after 10s" in str(failure)
    assert json.loads(cluster.kubectl("get", "sparkapplications", "-n", OPERATOR_NAMESPACE, "-l",
                                      "medley.io/hop=silver", "-o", "json").stdout)["items"] == []


def test_the_chart_points_airflow_at_the_kubernetes_runner(cluster, release):
    """The chart's medley.yaml (which Airflow's pods read) selects this runner, names the path
    where the umbrella mounts the job templates, and the workers run as the bound account."""
    cm = json.loads(cluster.kubectl("get", "configmap", f"{chart.RELEASE}-config", "-n", NAMESPACE, "-o", "json").stdout)
    orchestration_cfg = yaml.safe_load(cm["data"]["medley.yaml"])["orchestration"]
    assert orchestration_cfg["runner"] == "kubernetes" and orchestration_cfg["spark_submit"] == "native"
    airflow = yaml.safe_load((chart.UMBRELLA / "values.yaml").read_text())["airflow"]
    mounts = {m["name"]: m["mountPath"] for m in airflow["volumeMounts"]}
    assert mounts["medley-job-templates"] == orchestration_cfg["kubernetes"]["job_templates"]
    assert {"name": "MEDLEY_CONFIG", "value": f"{mounts['medley-config']}/medley.yaml"} in airflow["env"]
    assert airflow["workers"]["serviceAccount"] == {"create": False, "name": AIRFLOW_SA}


def test_an_unknown_runner_is_refused_with_the_key_to_set():
    with pytest.raises(orchestration.MedleyError, match="orchestration.runner is 'k8s'.*MEDLEY_ORCHESTRATION__RUNNER"):
        orchestration.run_job("medley.jobs", ["bronze"], {**os.environ, "MEDLEY_ORCHESTRATION__RUNNER": "k8s"})
