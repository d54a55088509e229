"""The umbrella chart (helm/medley) with the laptop profile on a real single-node cluster
(`medley k8s up --node`), and the pipeline's hops running on Kubernetes for real.

- `helm install --wait --wait-for-jobs` of helm/medley with profiles/laptop.yaml, with medley-core
  as its only subchart (the upstream charts cannot be fetched here), the images built here
  (`medley bootstrap images`, pull policy Never), into a namespace that enforces PodSecurity
  `restricted`: the bundled MinIO, the bucket Job, and the profile's bundled Druid (one pod:
  ZooKeeper and five Druid processes), Superset and Airflow (one pod: PostgreSQL as a sidecar on a
  Unix socket, api-server, scheduler, dag-processor) run, so the API server admitted them as
  non-root, capability-free pods and they worked that way.
- A small EventSim input is landed into that MinIO through a port-forward, by the landing contract
  (medley/land.py), as the EventSim workload would.
- medley_hourly is triggered over the bundled Airflow's REST API, as `make demo` does locally. Its
  tasks run every hop with the kubernetes runner, as the worker service account, from the chart's
  job templates: for bronze, silver, gold and reconcile a spark-submit pod submits the hop with
  Spark's own Kubernetes scheduler in cluster mode, and the driver and executor pods run in
  Medley's Spark image; druid and superset run as one pod each. The Delta tables, read back
  through the port-forward with a local Spark, hold exactly the input's lines; Druid SQL through a
  port-forward to the router Service answers the input's counts; the Overview's "Listens" chart,
  asked through the bundled Superset's API, counts the input's listens.
- `kubectl get pods -A` shows no crash loop; `helm test` finds a landed listen in Druid; then
  helm upgrade, rollback and uninstall, which leaves only the documented Secrets and volumes.

Marker `node`: `medley test` builds the node and the images in the background and runs this after
the local services stopped (docs/kubernetes.md, "Tested here on a real node", has its times).
Needs root. The node's home is MEDLEY_TEST_HOME/node: its images stay imported between runs, its
etcd and volumes are removed before each run, and the node is torn down at the end. Only one node
can run per machine: the test fails at once if one is up. The tests share the module's fixtures
and run in file order.
"""

from __future__ import annotations

import base64
import json
import secrets
import shutil
import socket
import subprocess
import threading
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

import pytest
import yaml

from instance import TEST_HOME, generate_hours, instance_env
from medley import chart, config, land, orchestration, storage
from medley.bootstrap import ensure, images
from medley.errors import MedleyError
from medley.k8s.node import Node

pytestmark = [pytest.mark.k8s, pytest.mark.node, pytest.mark.timeout(3600)]

NAMESPACE = "medley-cluster"
RELEASE = "medley"
APP_IMAGES = ("medley/spark", "medley/minio", "medley/druid", "medley/zookeeper", "medley/superset",
              "medley/airflow", "medley/postgresql")
DAY = "2026-11-07"
WORKER_SA = "medley-airflow-worker"
SUPERSET_CREDENTIALS = "medley-superset-credentials"
AIRFLOW_CREDENTIALS = "medley-airflow-credentials"
JOB_IMAGE = images.image("medley/spark").ref   # every hop's pods run it
HOURLY_START = datetime.now(timezone.utc).replace(microsecond=0)


@pytest.fixture(scope="module")
def on_node():
    """The node's cluster (kubectl as admin)."""
    cfg = config.load()
    ensure(cfg, "images")
    node = Node.for_config(cfg, TEST_HOME / "node", app_images=False)
    if node.is_up():
        pytest.fail("a Medley node is already up on this machine (only one can run): `medley k8s down` it first")
    # A fresh cluster on warm images: the API objects and volumes of an earlier run go, containerd's
    # images stay.
    for state in ("etcd", "storage"):
        shutil.rmtree(node.home / state, ignore_errors=True)
    started = time.monotonic()
    cluster = node.start()
    try:
        _import_images(node, [images.archive(cfg, images.image(name)) for name in APP_IMAGES])
        print(f"node up with the profile's {len(APP_IMAGES)} images: {time.monotonic() - started:.1f} s")
        yield cluster
    finally:
        node.stop()


def _import_images(node: Node, archives: list[Path]) -> None:
    """The images this test runs, each imported once per archive version; the record sits beside
    containerd's root in the node's home."""
    record = node.home / "cluster-test-images.json"
    imported = json.loads(record.read_text()) if record.exists() else {}
    for archive in archives:
        stamp = f"{archive.stat().st_mtime_ns}:{archive.stat().st_size}"
        if imported.get(str(archive)) != stamp:
            node.ctr("images", "import", str(archive), timeout=1800)
            imported[str(archive)] = stamp
            record.write_text(json.dumps(imported, indent=1))


def kubectl(cluster, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return cluster.kubectl("-n", NAMESPACE, *args, check=check)


@pytest.fixture(scope="module")
def helm(on_node, tmp_path_factory):
    """Helm against the node, with its own config/cache/data directories."""
    binary = ensure(config.load(), "helm")
    helm_home = tmp_path_factory.mktemp("helm-home")
    env = on_node.env() | {f"HELM_{k}_HOME": str(helm_home / k.lower()) for k in ("CONFIG", "CACHE", "DATA")}
    return lambda *args: subprocess.run([str(binary), *args], env=env, capture_output=True, text=True)


@pytest.fixture(scope="module")
def umbrella_chart(tmp_path_factory) -> Path:
    """helm/medley as a user installs it, with medley-core as its only subchart (the upstream
    charts' repositories are unreachable here: medley.chart.offline_umbrella)."""
    return chart.offline_umbrella(ensure(config.load(), "helm"), tmp_path_factory.mktemp("chart"))


@pytest.fixture(scope="module")
def release(on_node, helm, umbrella_chart, tmp_path_factory):
    """The umbrella chart installed with the laptop profile (helm/medley/profiles/laptop.yaml) and
    only what this node needs on top; yields the values files, in helm's order."""
    def never() -> dict:     # a dict each (one shared dict would be dumped as a YAML alias)
        return {"pullPolicy": "Never"}

    node_values = {"core": {
        # The profile names the images `medley bootstrap images` builds
        # (tests/helm/test_chart.py::test_every_laptop_image_is_one_bootstrap_builds); they are
        # already in the node's containerd, with no registry to pull from.
        "objectStore": {"minio": {"image": never()}},
        "images": {"job": never()},
        "druid": {"bundled": {"image": never(), "zookeeper": {"image": never()}}},
        "superset": {"bundled": {"image": never()}},
        # medley_hourly's start_date is the test's start, to the second: the timetable aligns it to
        # the next full hour, whose run starts an hour after that, so no scheduled run can start
        # beside the test's own run, whatever the time of day
        "airflow": {"bundled": {"hourlyStartDate": HOURLY_START.isoformat(), "image": never(),
                                "postgresql": {"image": never()}}},
        # The node has 2 cores: driver and executor asking one core each would never both fit.
        "spark": {"driver": {"requestCores": "250m"}, "executor": {"requestCores": "250m"}},
        # EventSim's own workload lands through Fluent Bit, which has no image here; the test lands.
        "eventsim": {"enabled": False},
    }}
    values_file = tmp_path_factory.mktemp("values") / "node.yaml"
    values_file.write_text(yaml.safe_dump(node_values))
    values = [chart.values_file("laptop"), values_file]
    on_node.kubectl("create", "namespace", NAMESPACE)
    on_node.kubectl("label", "namespace", NAMESPACE, "pod-security.kubernetes.io/enforce=restricted")
    # Superset's and Airflow's logins: the Secrets the docs have you create before installing (no
    # default password)
    kubectl(on_node, "create", "secret", "generic", SUPERSET_CREDENTIALS,
            *(f"--from-literal={key}={secrets.token_urlsafe(18)}" for key in ("admin-password", "analyst-password")))
    kubectl(on_node, "create", "secret", "generic", AIRFLOW_CREDENTIALS,
            f"--from-literal=admin-password={secrets.token_urlsafe(18)}")
    started = time.monotonic()
    installed = helm("install", RELEASE, str(umbrella_chart), "-n", NAMESPACE, *_files(values),
                     "--wait", "--wait-for-jobs", "--timeout", "1200s")
    print(f"helm install --wait --wait-for-jobs: {time.monotonic() - started:.1f} s")
    if installed.returncode != 0:
        described = kubectl(on_node, "describe", "pods", check=False).stdout
        raise AssertionError(f"helm install failed: {installed.stderr.strip()}\n{described[-4000:]}")
    yield values


def _files(values: list[Path]) -> list[str]:
    return [arg for v in values for arg in ("-f", str(v))]


def test_minio_and_the_bucket_job_run_as_restricted_pods(on_node, release):
    pods = json.loads(kubectl(on_node, "get", "pods", "-o", "json").stdout)["items"]
    by_component = {p["metadata"]["labels"]["app.kubernetes.io/component"]: p for p in pods}
    assert by_component["minio"]["status"]["phase"] == "Running"
    assert by_component["bucket"]["status"]["phase"] == "Succeeded"
    for pod in by_component.values():
        assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
        assert pod["spec"]["securityContext"]["runAsUser"] != 0
    bucket_log = kubectl(on_node, "logs", by_component["bucket"]["metadata"]["name"]).stdout
    assert f"bucket medley ready at {RELEASE}-minio.{NAMESPACE}.svc:9000" in bucket_log


@pytest.fixture(scope="module")
def minio(on_node, release):
    """medley.yaml's view of the bundled MinIO through a port-forward, with the release's keys."""
    secret = json.loads(kubectl(on_node, "get", "secret", f"{RELEASE}-s3", "-o", "json").stdout)["data"]
    keys = {k: base64.b64decode(secret[k]).decode() for k in ("access-key", "secret-key")}
    with port_forward(on_node, f"{RELEASE}-minio", 9000) as port:
        yield config.load({**instance_env(), "MEDLEY_STORAGE__ENDPOINT": f"http://127.0.0.1:{port}",
                           "MEDLEY_STORAGE__BUCKET": "medley", "MEDLEY_S3_ACCESS_KEY": keys["access-key"],
                           "MEDLEY_S3_SECRET_KEY": keys["secret-key"]})


@contextmanager
def port_forward(cluster, service: str, service_port: int) -> Iterator[int]:
    """`kubectl port-forward` to a Service of the release's namespace; yields the local port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    forward = subprocess.Popen([str(cluster.bin_dir / "kubectl"), "-n", NAMESPACE, "port-forward",
                                f"svc/{service}", f"{port}:{service_port}"], env=cluster.env(),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        first = forward.stdout.readline()
        assert first.startswith("Forwarding from"), first
        yield port
    finally:
        forward.terminate()
        forward.wait(10)


@pytest.fixture(scope="module")
def landed(minio, tmp_path_factory) -> dict[str, int]:
    out = tmp_path_factory.mktemp("eventsim")
    lines = generate_hours(out, DAY, hours=23, users=100, seed=3)   # 215 lines, three streams
    land.land_directory(minio, out)
    return lines


def test_the_bundled_airflow_runs_as_one_restricted_pod(on_node, release):
    (pod,) = json.loads(kubectl(on_node, "get", "pods", "-l", "app.kubernetes.io/component=airflow",
                                "-o", "json").stdout)["items"]
    assert pod["status"]["phase"] == "Running"
    ready = {c["name"]: c["ready"] for c in pod["status"]["containerStatuses"]}
    assert ready == dict.fromkeys(["api-server", "scheduler", "dag-processor"], True)
    init = {c["name"]: c["state"] for c in pod["status"]["initContainerStatuses"]}
    # PostgreSQL runs beside them as a sidecar; the set-up (keys, admin, migrations) exited 0
    assert "running" in init["postgresql"] and init["prepare"]["terminated"]["exitCode"] == 0
    assert pod["spec"]["securityContext"]["runAsUser"] == 50000
    assert pod["spec"]["serviceAccountName"] == WORKER_SA
    claim = kubectl(on_node, "get", "pvc", f"data-{RELEASE}-airflow-0", "-o", "jsonpath={.status.phase}").stdout
    assert claim == "Bound"


class PodWatch(threading.Thread):
    """Every hop pod seen while the DAG runs (the runner deletes them when its task ends):
    name -> (hop, Spark role, image)."""

    def __init__(self, cluster):
        super().__init__(daemon=True)
        self.cluster, self.seen, self.done = cluster, {}, threading.Event()

    def run(self):
        while not self.done.is_set():
            listed = kubectl(self.cluster, "get", "pods", "-l", "medley.io/hop", "-o", "json", check=False)
            for pod in json.loads(listed.stdout or '{"items": []}')["items"]:
                labels = pod["metadata"]["labels"]
                self.seen[pod["metadata"]["name"]] = (labels["medley.io/hop"], labels.get("spark-role", "submitter"),
                                                      pod["spec"]["containers"][0]["image"])
            self.done.wait(2)


@pytest.fixture(scope="module")
def dag_run(on_node, release, landed, minio) -> tuple[dict, dict]:
    """medley_hourly triggered over the bundled Airflow's REST API (through a port-forward, as the
    admin from the credentials Secret), exactly as `make demo` triggers it locally; its tasks run
    every hop with the kubernetes runner as the worker service account. Returns (the run, the hop
    pods seen)."""
    password = base64.b64decode(json.loads(kubectl(on_node, "get", "secret", AIRFLOW_CREDENTIALS, "-o", "json")
                                           .stdout)["data"]["admin-password"]).decode()
    watch = PodWatch(on_node)
    watch.start()
    started = time.monotonic()
    try:
        with port_forward(on_node, f"{RELEASE}-airflow", 8080) as port:
            cfg = config.load({**minio.env, "MEDLEY_SERVICES__AIRFLOW__PORT": str(port),
                               "MEDLEY_AIRFLOW_ADMIN_PASSWORD": password})
            run = orchestration.trigger_and_wait(cfg, "medley_hourly", timeout_s=2700, poll_s=5,
                                                 on_task=lambda task, state: print(
                                                     f"{time.monotonic() - started:7.1f} s  {task}: {state}"))
    except Exception as err:
        scheduler = kubectl(on_node, "logs", f"{RELEASE}-airflow-0", "-c", "scheduler", "--tail", "60",
                            check=False).stdout
        raise AssertionError(f"medley_hourly failed in the cluster: {err}\n--- scheduler\n{scheduler}") from err
    finally:
        watch.done.set()
        watch.join()
    print(f"medley_hourly in the cluster: {time.monotonic() - started:.1f} s; "
          + ", ".join(f"{task} {seconds:.0f} s" for task, seconds in run["durations"].items() if seconds))
    return run, watch.seen


HOPS = ["bronze", "silver", "gold", "reconcile", "druid", "superset"]


def test_the_hourly_dag_runs_every_hop_and_each_hop_in_its_own_pods(on_node, dag_run):
    run, seen = dag_run
    assert run["tasks"] == dict.fromkeys(HOPS, "success")
    pods = {hop: {(role, image) for h, role, image in seen.values() if h == hop} for hop in HOPS}
    # the Spark hops: a spark-submit pod, then Spark's own driver and executor pods, in the job image
    for hop in ("bronze", "silver", "gold", "reconcile"):
        assert pods[hop] == {(role, JOB_IMAGE) for role in ("submitter", "driver", "executor")}, (hop, seen)
    # druid and superset: one plain pod each, in the job image
    for hop in ("druid", "superset"):
        assert [(role, image) for h, role, image in seen.values() if h == hop] == [("submitter", JOB_IMAGE)], seen
    # the runner deleted what it created (the executors go with the driver, by owner reference)
    deadline = time.monotonic() + 180
    while left := json.loads(kubectl(on_node, "get", "pods", "-l", "medley.io/hop", "-o", "json").stdout)["items"]:
        assert time.monotonic() < deadline, [p["metadata"]["name"] for p in left]
        time.sleep(2)


def test_the_delta_tables_hold_exactly_the_input(minio, landed, dag_run):
    from medley.spark import session

    spark = session(minio, "medley-cluster-test")
    try:
        count = lambda table: spark.read.format("delta").load(storage.table_uri(minio, table)).count()  # noqa: E731
        assert count("bronze.events") == sum(landed.values())
        assert count("silver.listen_events") == landed["listen_events"]
        assert count("gold.fact_listen") == landed["listen_events"]
    finally:
        spark.stop()


def test_the_bundled_druid_runs_as_one_restricted_pod(on_node, release):
    (pod,) = json.loads(kubectl(on_node, "get", "pods", "-l", "app.kubernetes.io/component=druid",
                                "-o", "json").stdout)["items"]
    assert pod["status"]["phase"] == "Running"
    ready = {c["name"]: c["ready"] for c in pod["status"]["containerStatuses"]}
    assert ready == dict.fromkeys(["zookeeper", "coordinator", "broker", "historical", "middlemanager", "router"], True)
    assert pod["spec"]["securityContext"]["runAsUser"] == 1000
    claim = kubectl(on_node, "get", "pvc", f"data-{RELEASE}-druid-0", "-o", "jsonpath={.status.phase}").stdout
    assert claim == "Bound"


@pytest.fixture(scope="module")
def druid_cfg(on_node, release, minio):
    """medley.yaml's view of the bundled Druid through a port-forward to its router Service."""
    with port_forward(on_node, f"{RELEASE}-druid-router", 8888) as port:
        yield config.load({**minio.env, "MEDLEY_SERVICES__DRUID__URL": f"http://127.0.0.1:{port}"})


def test_druid_sql_answers_what_the_input_files_say(druid_cfg, landed, dag_run):
    from medley import druid

    listens = landed["listen_events"]
    total = druid.sql(druid_cfg, 'SELECT SUM(listen_count) AS n FROM "agg_listens_hourly"')[0]["n"]
    assert total == listens
    assert druid.sql(druid_cfg, 'SELECT COUNT(*) AS n FROM "fact_listen"')[0]["n"] == listens
    per_day = druid.sql(druid_cfg, "SELECT TIME_FORMAT(TIME_FLOOR(__time, 'P1D'), 'yyyy-MM-dd') AS d, COUNT(*) AS n "
                                   'FROM "fact_listen" GROUP BY 1')
    assert {r["d"]: r["n"] for r in per_day} == {DAY: listens}


def test_the_bundled_superset_runs_as_one_restricted_pod(on_node, release):
    (pod,) = json.loads(kubectl(on_node, "get", "pods", "-l", "app.kubernetes.io/component=superset",
                                "-o", "json").stdout)["items"]
    assert pod["status"]["phase"] == "Running"
    assert [c["ready"] for c in pod["status"]["containerStatuses"]] == [True]
    # its set-up (migrations, the admin from your Secret, roles) ran to completion first
    assert [c["state"]["terminated"]["exitCode"] for c in pod["status"]["initContainerStatuses"]] == [0]
    assert pod["spec"]["securityContext"]["runAsUser"] == 1000
    claim = kubectl(on_node, "get", "pvc", f"data-{RELEASE}-superset-0", "-o", "jsonpath={.status.phase}").stdout
    assert claim == "Bound"


def listens_chart(cluster) -> list[list]:
    """The Overview's "Listens" chart, queried through the bundled Superset's API as the admin
    (Superset asks Druid)."""
    from medley import superset

    secret = json.loads(kubectl(cluster, "get", "secret", SUPERSET_CREDENTIALS, "-o", "json").stdout)["data"]
    with port_forward(cluster, f"{RELEASE}-superset", 8088) as port:
        cfg = config.load({**instance_env(), "MEDLEY_SERVICES__SUPERSET__URL": f"http://127.0.0.1:{port}",
                           "MEDLEY_SUPERSET_ADMIN_PASSWORD": base64.b64decode(secret["admin-password"]).decode()})
        return [list(row.values()) for row in superset.chart_data(cfg, "Listens")]


def test_a_dashboard_chart_counts_the_input_through_superset(on_node, release, landed, dag_run):
    """After the DAG's superset task imported the dashboards into the bundled Superset."""
    assert listens_chart(on_node) == [[landed["listen_events"]]]


def test_no_pod_crash_loops_and_medleys_pods_ran(on_node):
    listed = on_node.kubectl("get", "pods", "-A", "-o", "wide").stdout
    print(listed)
    pods = json.loads(on_node.kubectl("get", "pods", "-A", "-o", "json").stdout)["items"]
    for pod in pods:
        name = f"{pod['metadata']['namespace']}/{pod['metadata']['name']}"
        for c in pod["status"].get("containerStatuses", []):
            assert (c["state"].get("waiting") or {}).get("reason") != "CrashLoopBackOff", name
        if pod["metadata"]["namespace"] == NAMESPACE:
            assert pod["status"]["phase"] in ("Running", "Succeeded"), name
    # the long-running services never restarted (the bucket Job may: restartPolicy OnFailure retries
    # until MinIO answers)
    for service in ("minio", "druid", "superset", "airflow"):
        (pod,) = [p for p in pods if p["metadata"]["namespace"] == NAMESPACE
                  and p["metadata"]["labels"].get("app.kubernetes.io/component") == service]
        assert {c["name"]: c["restartCount"] for c in pod["status"]["containerStatuses"]} == \
            {c["name"]: 0 for c in pod["status"]["containerStatuses"]}, service


def test_helm_test_finds_a_landed_object_in_druid(helm, release, druid_cfg):
    """The chart's `helm test` hook (templates/tests/smoke-test.yaml): the first listen of the first
    landed object is one row of Druid's fact_listen."""
    tested = helm("test", RELEASE, "-n", NAMESPACE, "--logs", "--timeout", "600s")
    print(tested.stdout[-2000:])
    assert tested.returncode == 0, tested.stdout[-3000:] + tested.stderr[-3000:]
    assert "is 1 row(s) of fact_listen at http://medley-druid-router:8888" in tested.stdout


def _live_config(cluster) -> dict:
    cm = json.loads(kubectl(cluster, "get", "configmap", f"{RELEASE}-config", "-o", "json").stdout)
    return yaml.safe_load(cm["data"]["medley.yaml"])


def _labelled(cluster) -> set[str]:
    """Every object of any listable kind in the namespace labelled with the release, plus Helm's
    release records."""
    kinds = cluster.kubectl("api-resources", "--verbs=list", "--namespaced=true", "-o", "name").stdout.split()
    found = set(kubectl(cluster, "get", ",".join(kinds), "-l", f"app.kubernetes.io/instance={RELEASE}",
                        "-o", "name", "--ignore-not-found").stdout.split())
    return found | set(kubectl(cluster, "get", "secrets", "-l", f"owner=helm,name={RELEASE}", "-o", "name").stdout.split())


def test_upgrade_rollback_and_uninstall_leave_only_the_documented_volumes(on_node, helm, umbrella_chart, release):
    """Last: helm upgrade with a changed value (live in medley.yaml, the S3 keys kept, Druid not
    restarted), helm rollback to the install's value, then helm uninstall leaves the MinIO, Druid,
    Superset and Airflow volumes (docs/kubernetes.md), nothing else."""
    druid_uid = kubectl(on_node, "get", "pod", f"{RELEASE}-druid-0", "-o", "jsonpath={.metadata.uid}").stdout
    keys = kubectl(on_node, "get", "secret", f"{RELEASE}-s3", "-o", "jsonpath={.data}").stdout
    installed = _live_config(on_node)["spark"]["shuffle_partitions"]
    assert installed == yaml.safe_load(chart.values_file("laptop").read_text())["core"]["medley"]["spark"]["shuffle_partitions"]
    started = time.monotonic()
    upgraded = helm("upgrade", RELEASE, str(umbrella_chart), "-n", NAMESPACE, *_files(release),
                    "--set", f"core.medley.spark.shuffle_partitions={installed + 1}",
                    "--wait", "--wait-for-jobs", "--timeout", "600s")
    assert upgraded.returncode == 0, upgraded.stderr
    print(f"helm upgrade --wait: {time.monotonic() - started:.1f} s")
    assert _live_config(on_node)["spark"]["shuffle_partitions"] == installed + 1
    assert kubectl(on_node, "get", "secret", f"{RELEASE}-s3", "-o", "jsonpath={.data}").stdout == keys

    rolled = helm("rollback", RELEASE, "1", "-n", NAMESPACE, "--wait", "--timeout", "600s")
    assert rolled.returncode == 0, rolled.stderr
    status = json.loads(helm("status", RELEASE, "-n", NAMESPACE, "-o", "json").stdout)
    assert (status["info"]["status"], status["version"]) == ("deployed", 3)
    assert _live_config(on_node)["spark"]["shuffle_partitions"] == installed
    assert kubectl(on_node, "get", "pod", f"{RELEASE}-druid-0", "-o", "jsonpath={.metadata.uid}").stdout == druid_uid

    started = time.monotonic()
    removed = helm("uninstall", RELEASE, "-n", NAMESPACE, "--wait", "--timeout", "300s")
    assert removed.returncode == 0, removed.stderr
    print(f"helm uninstall --wait: {time.monotonic() - started:.1f} s")
    kept = {f"persistentvolumeclaim/data-{RELEASE}-{s}-0" for s in ("minio", "druid", "superset", "airflow")}
    deadline = time.monotonic() + 120      # the controllers' pods go by garbage collection
    while (left := _labelled(on_node)) != kept and time.monotonic() < deadline:
        time.sleep(2)
    assert left == kept
    pods = kubectl(on_node, "get", "pods", "-o", "name").stdout.split()
    assert pods == []


def test_a_reinstall_on_the_kept_volumes_serves_the_same_numbers(on_node, helm, umbrella_chart, release, landed,
                                                                  dag_run):
    """What the kept volumes are for: `helm install` again (new S3 keys: the old Secret went with
    the release) finds everything. MinIO serves its data with the new keys, Druid loads its
    segments from that deep storage and answers the input's count, Superset's dashboards decrypt
    their Druid connection with the key on its volume, and Airflow remembers the run."""
    started = time.monotonic()
    installed = helm("install", RELEASE, str(umbrella_chart), "-n", NAMESPACE, *_files(release),
                     "--wait", "--wait-for-jobs", "--timeout", "900s")
    assert installed.returncode == 0, installed.stderr
    print(f"helm install again on the kept volumes: {time.monotonic() - started:.1f} s")
    from medley import druid

    with port_forward(on_node, f"{RELEASE}-druid-router", 8888) as port:
        cfg = config.load({**instance_env(), "MEDLEY_SERVICES__DRUID__URL": f"http://127.0.0.1:{port}"})

        def listens() -> int | None:
            try:
                return druid.sql(cfg, 'SELECT COUNT(*) AS n FROM "fact_listen"')[0]["n"]
            except MedleyError:    # the broker does not know the datasource until a segment loaded
                return None

        deadline = time.monotonic() + 300          # the historical loads the segments from MinIO
        while (served := listens()) != landed["listen_events"] and time.monotonic() < deadline:
            time.sleep(5)
        assert served == landed["listen_events"]
    assert listens_chart(on_node) == [[landed["listen_events"]]]
    password = base64.b64decode(json.loads(kubectl(on_node, "get", "secret", AIRFLOW_CREDENTIALS, "-o", "json")
                                           .stdout)["data"]["admin-password"]).decode()
    with port_forward(on_node, f"{RELEASE}-airflow", 8080) as port:
        import requests

        base = f"http://127.0.0.1:{port}"
        token = requests.post(f"{base}/auth/token", json={"username": "admin", "password": password}, timeout=30)
        assert token.status_code == 201, token.text
        runs = requests.get(f"{base}/api/v2/dags/medley_hourly/dagRuns", timeout=30,
                            headers={"Authorization": f"Bearer {token.json()['access_token']}"}).json()
        assert {r["dag_run_id"]: r["state"] for r in runs["dag_runs"]}[dag_run[0]["run_id"]] == "success"
    removed = helm("uninstall", RELEASE, "-n", NAMESPACE, "--wait", "--timeout", "300s")
    assert removed.returncode == 0, removed.stderr
