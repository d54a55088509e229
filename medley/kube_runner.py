"""The kubernetes runner (orchestration.runner: kubernetes): an Airflow task runs its Medley job as
pods in the release's namespace, from the job templates the chart renders (mounted into Airflow's
pods at orchestration.kubernetes.job_templates), and ends with the exit code of the pod that ran
the job, so medley/orchestration.py maps it to retry or no retry exactly as for the local runner.

- **Spark hops** (bronze, silver, gold, reconcile), native path (orchestration.spark_submit:
  native): the task creates a submitter pod from `spark-submit.yaml` (the job image: Java and
  Spark are there, not in the Airflow image). It runs `spark-submit --deploy-mode cluster ...
  local:///opt/medley/medley/jobs.py <hop>` with waitAppCompletion=false, so it exits as soon as
  the driver pod exists; the task then follows the driver pod, whose container exits with the
  hop's own code (Spark's PythonRunner passes the Python exit code on).
- **Spark hops**, operator path (spark_submit: operator): the task creates the hop's
  SparkApplication (`<hop>.yaml`) and follows the driver pod the spark-operator starts for it.
- **Other jobs** (druid, superset, the maintenance steps): one pod from the pod template of the
  chart's Job `druid.yaml`/`superset.yaml`, running `python -m <module> <args>`.

Every object gets a name of its own per try and the labels medley.io/hop and medley.io/run (a
hash of DAG and run id), and is deleted when the task ends, whatever the outcome, after its log
went to the task log. A stopped task (SIGTERM) deletes them at once, which stops the driver and,
through their owner references, its executors. Pods an earlier try of the same task left behind
(its worker died) are deleted before the new try starts.

Plain REST over `requests`: in a pod the service account's token and CA, elsewhere the kubeconfig
($KUBECONFIG, bearer token). Nothing here is imported when the DAG files are parsed.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import signal
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Mapping, Sequence

import requests
import yaml

from medley.config import Config
from medley.errors import MedleyError

SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")
JOBS_FILE = "local:///opt/medley/medley/jobs.py"
# Run by spark-submit; the other jobs run as plain pods (the druid hop uses a local Spark there).
SPARK_SUBMITTED = ("bronze", "silver", "gold", "reconcile")
# The container of the pod template the driver is built from (k8s/spark/pod-template.yaml); the
# spark-operator names its driver container spark-kubernetes-driver.
DRIVER_CONTAINERS = ("spark", "spark-kubernetes-driver")
SPARK_APPLICATIONS = "/apis/sparkoperator.k8s.io/v1beta2/namespaces/{ns}/sparkapplications"
# Waiting reasons that no amount of waiting fixes: fail the try now (it may be retried).
STUCK = {"InvalidImageName", "CreateContainerConfigError", "CreateContainerError", "ErrImageNeverPull"}
POLL_S = 3.0


class PodFailed(MedleyError):
    """A pod of the job ended without an exit code of its own (deleted, evicted, never started)."""


# --- talking to the API server ----------------------------------------------------------------

@dataclass
class ApiServer:
    url: str
    namespace: str
    verify: str | bool
    token: str = ""
    token_file: Path | None = None   # a projected token rotates: read it for every request

    @classmethod
    def connect(cls, cfg: Config) -> "ApiServer":
        """In a pod: its service account. Elsewhere: the current context of $KUBECONFIG (or
        ~/.kube/config), which must authenticate with a bearer token."""
        namespace = cfg.get("orchestration.kubernetes.namespace") or ""
        env = cfg.env
        if env.get("KUBERNETES_SERVICE_HOST"):
            host, port = env["KUBERNETES_SERVICE_HOST"], env.get("KUBERNETES_SERVICE_PORT", "443")
            return cls(f"https://{host}:{port}",
                       namespace or (SERVICE_ACCOUNT_DIR / "namespace").read_text().strip(),
                       str(SERVICE_ACCOUNT_DIR / "ca.crt"), token_file=SERVICE_ACCOUNT_DIR / "token")
        path = Path(env.get("KUBECONFIG") or Path.home() / ".kube" / "config").expanduser()
        if not path.exists():
            raise MedleyError(f"no Kubernetes credentials: not in a pod and no kubeconfig at {path}",
                              "run Airflow in the cluster, or set KUBECONFIG")
        kubeconfig = yaml.safe_load(path.read_text())
        named = lambda kind, name: next(i[kind] for i in kubeconfig[f"{kind}s"] if i["name"] == name)  # noqa: E731
        context = named("context", kubeconfig["current-context"])
        cluster, user = named("cluster", context["cluster"]), named("user", context["user"])
        if "token" not in user:
            raise MedleyError(f"the kubeconfig {path} has no bearer token for user {context['user']}",
                              "use a service account token (kubectl create token <account>)")
        return cls(cluster["server"], namespace or context.get("namespace", "default"),
                   cluster.get("certificate-authority") or True, token=user["token"])

    def request(self, method: str, path: str, **kw) -> requests.Response:
        token = self.token_file.read_text().strip() if self.token_file else self.token
        return requests.request(method, self.url + path, verify=self.verify, timeout=kw.pop("timeout", 30),
                                headers={"Authorization": f"Bearer {token}"}, **kw)

    def pods(self, name: str = "") -> str:
        return f"/api/v1/namespaces/{self.namespace}/pods" + (f"/{name}" if name else "")

    def create(self, path: str, body: dict) -> dict:
        # Strict: a template field the API server does not know fails the task instead of being dropped.
        resp = self.request("POST", path, json=body, params={"fieldValidation": "Strict"})
        if resp.status_code not in (200, 201):
            raise MedleyError(f"the API server refused to create {body['kind']} {body['metadata']['name']} "
                              f"(HTTP {resp.status_code}): {resp.json().get('message', resp.text[:300])}",
                              "check the runner's Role (k8s/rbac/airflow-role.yaml) and the job templates")
        return resp.json()

    def pod(self, name: str) -> dict | None:
        resp = self.request("GET", self.pods(name))
        if resp.status_code == 404:
            return None
        resp.raise_for_status()
        return resp.json()

    def delete(self, path: str) -> None:
        # Background propagation: the driver's executors, ConfigMap and Service go with it.
        self.request("DELETE", path, json={"propagationPolicy": "Background"})


# --- exit codes from pod status -----------------------------------------------------------------

def exit_code(pod: dict, containers: Sequence[str]) -> int | None:
    """The exit code of the pod's job container once it has terminated, else None. Raises
    PodFailed when the pod failed without the container ending (evicted, deleted by the node) or
    the container is stuck for a reason waiting cannot fix."""
    status = pod.get("status") or {}
    for container in status.get("containerStatuses") or []:
        if container["name"] not in containers:
            continue
        state = container.get("state") or {}
        if "terminated" in state:
            return int(state["terminated"]["exitCode"])
        reason = (state.get("waiting") or {}).get("reason", "")
        if reason in STUCK:
            raise PodFailed(f"pod {pod['metadata']['name']} cannot start its container: {reason}: "
                            f"{state['waiting'].get('message', '')}".rstrip(": "),
                            "fix the image or the job template, then clear the task")
    if status.get("phase") == "Failed":
        raise PodFailed(f"pod {pod['metadata']['name']} failed without an exit code "
                        f"({status.get('reason', 'no reason given')}: {status.get('message', '')})".rstrip(": )") + ")",
                        "see `kubectl describe pod`; the task is retried")
    return None


def _running(pod: dict, containers: Sequence[str]) -> bool:
    return any(c["name"] in containers and "running" in (c.get("state") or {})
               for c in (pod.get("status") or {}).get("containerStatuses") or [])


def follow(api: ApiServer, name: str, containers: Sequence[str], output: Callable[[str], None],
           note: Callable[[str], None], start_timeout_s: float, poll_s: float = POLL_S) -> int:
    """Wait for pod `name` to exist and its job container to end; its log goes to `output` line by
    line while it runs (or at the end, if it ran between two polls), the runner's own remarks to
    `note`. Returns the exit code."""
    started = time.monotonic()
    streamed = seen = False
    unreachable_since = None
    while True:
        try:
            pod = api.pod(name)
        except requests.RequestException as err:
            # An API server restart must not cost an hour of Spark: keep polling for a while.
            unreachable_since = unreachable_since or time.monotonic()
            if time.monotonic() - unreachable_since > start_timeout_s:
                raise PodFailed(f"the API server did not answer for {start_timeout_s:.0f}s ({err})",
                                "the task is retried") from err
            note(f"medley: the API server did not answer ({type(err).__name__}); asking again")
            time.sleep(poll_s)
            continue
        unreachable_since = None
        if pod is None:
            if seen:
                raise PodFailed(f"pod {name} was deleted before it ended",
                                "the task was stopped, or someone deleted the pod; the task is retried")
            if time.monotonic() - started > start_timeout_s:
                raise PodFailed(f"pod {name} does not exist after {start_timeout_s:.0f}s",
                                "it was deleted, or nothing created it (is the spark-operator installed "
                                "and watching this namespace?); the task is retried")
        else:
            seen = True
            code = exit_code(pod, containers)
            if code is not None:
                if not streamed:
                    _copy_log(api, name, pod, containers, output, note, follow=False)
                return code
            if _running(pod, containers) and not streamed:
                streamed = _copy_log(api, name, pod, containers, output, note, follow=True)
                if streamed:    # the container has ended, or its log broke off: look again now
                    continue
            if pod["status"].get("phase") == "Pending" and time.monotonic() - started > start_timeout_s:
                raise PodFailed(f"pod {name} has not started after {start_timeout_s:.0f}s "
                                f"({_why_pending(pod)})", "see `kubectl describe pod`; the task is retried")
        time.sleep(poll_s)


def _why_pending(pod: dict) -> str:
    conditions = [f"{c['type']}: {c.get('reason', '')} {c.get('message', '')}".strip()
                  for c in pod["status"].get("conditions") or [] if c.get("status") == "False"]
    waiting = [f"{c['name']}: {c['state']['waiting'].get('reason', '')}"
               for c in pod["status"].get("containerStatuses") or [] if "waiting" in (c.get("state") or {})]
    return "; ".join(conditions + waiting) or "not scheduled yet"


def _copy_log(api: ApiServer, name: str, pod: dict, containers: Sequence[str], output: Callable[[str], None],
              note: Callable[[str], None], follow: bool) -> bool:
    """The job container's log into the task log; False when the kubelet could not serve it (the
    task goes on on the pod's status alone)."""
    container = next((c["name"] for c in pod["spec"]["containers"] if c["name"] in containers),
                     pod["spec"]["containers"][0]["name"])
    try:
        with api.request("GET", f"{api.pods(name)}/log", params={"container": container, "follow": str(follow).lower()},
                         stream=True, timeout=(30, None) if follow else 60) as resp:
            if resp.status_code != 200:
                return False
            for line in resp.iter_lines(decode_unicode=True):
                output(line)
    except requests.RequestException as err:
        note(f"medley: the log of pod {name} broke off ({type(err).__name__}); following its status")
    return True


# --- building the objects from the chart's templates ------------------------------------------

@dataclass(frozen=True)
class Run:
    """Names and labels of one try of one task."""

    hop: str
    run_key: str        # hash of DAG id and run id: the same for every try of the run
    try_key: str        # random per try: a retry never collides with what a failed try left
    description: str    # DAG, run id and try, for people reading `kubectl get pods -o yaml`

    @classmethod
    def current(cls, hop: str) -> "Run":
        dag_run, attempt = _airflow_run()
        run_key = hashlib.sha256(dag_run.encode()).hexdigest()[:10]
        return cls(hop, run_key, secrets.token_hex(3), f"{dag_run} {attempt}".strip())

    @property
    def labels(self) -> dict[str, str]:
        return {"medley.io/hop": self.hop, "medley.io/run": self.run_key}

    @property
    def selector(self) -> str:
        return ",".join(f"{k}={v}" for k, v in self.labels.items())

    def name(self, prefix: str, suffix: str = "") -> str:
        """<prefix>-<run>-<try>[-<suffix>]: the prefix shortened so the whole is a valid pod name."""
        tail = f"-{self.run_key}-{self.try_key}" + (f"-{suffix}" if suffix else "")
        return prefix[: 63 - len(tail)].rstrip("-") + tail


def _airflow_run() -> tuple[str, str]:
    """(DAG and run id, which try) of the Airflow task this runs in."""
    try:
        from airflow.sdk import get_current_context

        ti = get_current_context()["ti"]
        return f"{ti.dag_id} {ti.run_id}", f"try {ti.try_number}"
    except (ImportError, RuntimeError):   # not inside a task (the CLI, tests): a run of its own
        return f"manual {time.time_ns()}", ""


def _template(cfg: Config, name: str) -> dict:
    path = Path(cfg.get("orchestration.kubernetes.job_templates") or "") / name
    if not path.is_file():
        raise MedleyError(f"the job template {path} is missing",
                          "mount the chart's job-templates ConfigMap there (orchestration.kubernetes.job_templates)")
    return yaml.safe_load(path.read_text())


def _stamp(meta: dict, run: Run, name: str) -> dict:
    return {**meta, "name": name, "labels": {**meta.get("labels", {}), **run.labels},
            "annotations": {**meta.get("annotations", {}), "medley.io/airflow-run": run.description}}


def submitter_pod(template: dict, run: Run, driver: str, main_args: Sequence[str]) -> dict:
    """The spark-submit pod of one try: the template's spark-submit with the driver's pod name,
    labels and annotation, then the job file and its arguments."""
    pod = yaml.safe_load(yaml.safe_dump(template))
    pod["metadata"] = _stamp(pod["metadata"], run, run.name(template["metadata"]["name"]))
    confs = {"spark.kubernetes.driver.pod.name": driver, "spark.app.name": driver[: -len("-driver")],
             **{f"spark.kubernetes.{role}.label.{k}": v for role in ("driver", "executor")
                for k, v in run.labels.items()},
             "spark.kubernetes.driver.annotation.medley.io/airflow-run": run.description}
    container = pod["spec"]["containers"][0]
    container["args"] = [*container["args"], *(a for k, v in confs.items() for a in ("--conf", f"{k}={v}")),
                         JOBS_FILE, *main_args]
    return pod


def spark_application(template: dict, run: Run, main_args: Sequence[str]) -> dict:
    app = yaml.safe_load(yaml.safe_dump(template))
    app["metadata"] = _stamp(app["metadata"], run, run.name(template["metadata"]["name"]))
    app["spec"]["arguments"] = list(main_args)
    for role in ("driver", "executor"):
        app["spec"][role]["labels"] = {**app["spec"][role].get("labels", {}), **run.labels}
    return app


def job_pod(job: dict, run: Run, command: Sequence[str]) -> dict:
    """A bare pod from a Job template's pod template: Airflow, not the Job controller, retries."""
    spec = yaml.safe_load(yaml.safe_dump(job["spec"]["template"]["spec"]))
    spec["containers"][0]["command"] = list(command)
    meta = _stamp(job["spec"]["template"]["metadata"], run, run.name(job["metadata"]["name"]))
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {**meta, "namespace": job["metadata"]["namespace"]},
            "spec": spec}


# --- one job ----------------------------------------------------------------------------------

def run_job(module: str, args: Sequence[str], cfg: Config, output: Callable[[str], None],
            note: Callable[[str], None]) -> int:
    """Run `python -m <module> <args>` (a hop of medley.jobs or a step of medley.maintenance) as
    pods; returns the job's exit code. The job's log goes to `output`, what the runner does to
    `note` (both the task log; only the first is searched for the job's error line). Everything
    created is deleted before it returns."""
    api = ApiServer.connect(cfg)
    hop = args[0]   # or the maintenance step
    run = Run.current(hop)
    timeout = float(cfg.get("orchestration.kubernetes.start_timeout_seconds", 900))
    created: list[str] = []     # API paths of what this try created, deleted at the end
    for leftover in _leftovers(api, run):
        note(f"medley: deleting pod {leftover} left by an earlier try of this task")
        api.delete(api.pods(leftover))
    with _deleted_on_exit(api, created, note):
        if module == "medley.jobs" and hop in SPARK_SUBMITTED:
            if cfg.get("orchestration.spark_submit", "native") == "operator":
                app = spark_application(_template(cfg, f"{hop}.yaml"), run, args)
                path = SPARK_APPLICATIONS.format(ns=api.namespace)
                api.create(path, app)
                created.append(f"{path}/{app['metadata']['name']}")
                driver = f"{app['metadata']['name']}-driver"
                note(f"medley: SparkApplication {app['metadata']['name']} created; following its driver pod {driver}")
            else:
                template = _template(cfg, "spark-submit.yaml")
                driver = run.name(f"{template['metadata']['name'].removesuffix('-spark-submit')}-{hop}", "driver")
                pod = submitter_pod(template, run, driver, args)
                api.create(api.pods(), pod)
                created.append(api.pods(pod["metadata"]["name"]))
                created.append(api.pods(driver))
                note(f"medley: pod {pod['metadata']['name']} submits driver pod {driver}")
                code = follow(api, pod["metadata"]["name"], ["spark-submit"], output, note, timeout)
                if code != 0:
                    raise PodFailed(f"spark-submit for {hop} exited with code {code}",
                                    "its log is above; the task is retried")
            return follow(api, driver, DRIVER_CONTAINERS, output, note, timeout)
        if module == "medley.jobs":
            job = _template(cfg, f"{hop}.yaml")
        else:   # a maintenance step: the druid hop's pod (it has the Druid URL druid-compaction needs)
            job = _template(cfg, "druid.yaml")
            job["metadata"]["name"] = f"{job['metadata']['name'].removesuffix('-druid')}-{run.hop}"
        pod = job_pod(job, run, ["python", "-m", module, *args])
        api.create(api.pods(), pod)
        created.append(api.pods(pod["metadata"]["name"]))
        note(f"medley: pod {pod['metadata']['name']} runs python -m {module} {' '.join(args)}")
        return follow(api, pod["metadata"]["name"], [pod["spec"]["containers"][0]["name"]], output, note, timeout)


def _leftovers(api: ApiServer, run: Run) -> list[str]:
    resp = api.request("GET", api.pods(), params={"labelSelector": run.selector})
    resp.raise_for_status()
    return [p["metadata"]["name"] for p in resp.json()["items"]]


@contextmanager
def _deleted_on_exit(api: ApiServer, created: list[str], note: Callable[[str], None]) -> Iterator[None]:
    """Delete what the try created when it ends, and at once when the task is stopped: Airflow
    stops a task with SIGTERM and, for a Python task, does nothing else. Then the wait sees the
    pod gone and fails the task."""
    def delete_all() -> None:
        for path in created:
            api.delete(path)

    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.getsignal(signal.SIGTERM)

        def stop(signum, frame):
            note("medley: the task is stopped: deleting its pods")
            delete_all()
            if callable(previous):
                previous(signum, frame)

        signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
        delete_all()
