"""A real single-node cluster (`medley k8s up --node`): pods run, Services route, names resolve,
volumes bind, and `down` leaves nothing on the host. About 45 s once built (`medley bootstrap
node`; `medley test` builds it in the background and runs these after the local services stopped,
marker `node`). Needs root. The tests run in file order; the last one tears the node down."""

from __future__ import annotations

import json
import os
import subprocess
import warnings
from pathlib import Path

import pytest
import requests
import yaml

from medley.bootstrap.node import BUSYBOX_IMAGE
from medley.config import load
from medley.k8s import node as k8s_node
from medley.k8s.node import Node

pytestmark = [pytest.mark.k8s, pytest.mark.node]
NS = "node-probe"
NETNS_DIR = Path("/var/run/netns")


def _netns() -> set[str]:
    return set(os.listdir(NETNS_DIR)) if NETNS_DIR.exists() else set()


@pytest.fixture(scope="module")
def node_up(tmp_path_factory):
    node = Node.for_config(load(), tmp_path_factory.mktemp("node"), app_images=False)
    before = {"netns": _netns(), "iptables": _iptables()}
    cluster = node.start()
    try:
        yield node, cluster, before
    finally:
        node.stop()


def _apply(cluster, *docs: dict) -> None:
    cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(docs))


def _busybox(name: str, command: str, **spec) -> dict:
    return {"name": name, "image": BUSYBOX_IMAGE, "imagePullPolicy": "Never", "command": ["sh", "-c", command], **spec}


def _wait(cluster, *args: str) -> None:
    waited = cluster.kubectl("-n", NS, "wait", "--timeout=180s", *args, check=False)
    if waited.returncode != 0:
        described = cluster.kubectl("-n", NS, "describe", "pods", check=False).stdout
        raise AssertionError(f"kubectl wait {' '.join(args)}: {waited.stderr}\n{described[-3000:]}")


def test_node_is_ready_with_dns_and_a_default_storage_class(node_up):
    node, cluster, _ = node_up
    ready = cluster.kubectl("get", "node", k8s_node.NODE_NAME, "-o",
                            "jsonpath={.status.conditions[?(@.type=='Ready')].status}").stdout
    assert ready == "True"
    dns = json.loads(cluster.kubectl("-n", "kube-system", "get", "service", "kube-dns", "-o", "json").stdout)
    assert dns["spec"]["clusterIP"] == k8s_node.DNS_SERVICE_IP
    classes = json.loads(cluster.kubectl("get", "storageclass", "-o", "json").stdout)["items"]
    assert [c["metadata"]["name"] for c in classes] == [k8s_node.STORAGE_CLASS]


def test_the_kubelet_refuses_anonymous_requests(node_up):
    # Only the API server's client certificate or a token it vouches for: pods can reach this port.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # the kubelet's self-signed serving certificate
        answer = requests.get(f"https://{k8s_node.ADDRESS}:{k8s_node.KUBELET_PORT}/pods", verify=False, timeout=10)
    assert answer.status_code == 401


def test_two_replicas_answer_through_a_cluster_ip_service_by_dns_name(node_up):
    node, cluster, _ = node_up
    cluster.kubectl("create", "namespace", NS)
    labels = {"app": "web"}
    _apply(cluster,
           {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": NS},
            "spec": {"replicas": 2, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels}, "spec": {"containers": [_busybox(
                         "web", "mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 8080 -h /www",
                         ports=[{"containerPort": 8080}])]}}}},
           {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": NS},
            "spec": {"selector": labels, "ports": [{"port": 80, "targetPort": 8080}]}})
    _wait(cluster, "--for=condition=available", "deployment/web")
    pods = set(cluster.kubectl("-n", NS, "get", "pods", "-l", "app=web", "-o",
                               "jsonpath={.items[*].metadata.name}").stdout.split())
    assert len(pods) == 2
    # 30 requests from another pod, by the Service's DNS name: both replicas answer (the chance
    # that kube-proxy's random choice picks one replica 30 times is 2^-29).
    url = f"http://web.{NS}.svc.{k8s_node.CLUSTER_DOMAIN}/"
    _apply(cluster, {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "client", "namespace": NS},
                     "spec": {"backoffLimit": 0, "template": {"spec": {"restartPolicy": "Never", "containers": [
                         # Not wget -T: Debian's static busybox crashes with it.
                         _busybox("client", f"for i in $(seq 30); do timeout 10 wget -q -O - {url} || exit 1; done")]}}}})
    _wait(cluster, "--for=condition=complete", "job/client")
    answers = cluster.kubectl("-n", NS, "logs", "job/client").stdout.split()
    assert len(answers) == 30
    assert set(answers) == pods


def test_a_claim_binds_through_the_storage_class_and_keeps_what_a_pod_wrote(node_up):
    node, cluster, _ = node_up
    _apply(cluster,
           {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data", "namespace": NS},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Mi"}}}},
           {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "writer", "namespace": NS},
            "spec": {"restartPolicy": "Never",
                     "containers": [_busybox("writer", "echo written-by-pod > /data/proof",
                                             volumeMounts=[{"name": "data", "mountPath": "/data"}])],
                     "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "data"}}]}})
    _wait(cluster, "--for=jsonpath={.status.phase}=Succeeded", "pod/writer")
    claim = json.loads(cluster.kubectl("-n", NS, "get", "pvc", "data", "-o", "json").stdout)
    assert claim["status"]["phase"] == "Bound"
    assert claim["spec"]["storageClassName"] == k8s_node.STORAGE_CLASS
    proofs = list((node.home / "storage").glob("*/proof"))
    assert [p.read_text() for p in proofs] == ["written-by-pod\n"]


def test_down_leaves_no_process_mount_netns_interface_or_iptables_rule(node_up):
    node, cluster, before = node_up
    node.stop()
    processes = [p for p in Path("/proc").iterdir() if p.name.isdigit() and _cmdline_mentions(p, node)]
    assert processes == []
    mounts = [line for line in Path("/proc/self/mounts").read_text().splitlines()
              if str(node.home) in line or "/netns/cni-" in line]
    assert mounts == []
    assert _netns() - before["netns"] == set()
    links = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True, check=True).stdout
    for interface in (k8s_node.BRIDGE, k8s_node.NODE_INTERFACE):
        assert f" {interface}:" not in links and f"master {k8s_node.BRIDGE}" not in links
    added = [rule for rule in _iptables() if rule not in before["iptables"]]
    assert added == []
    assert not list(Path("/sys/fs/cgroup").glob("*/kubepods"))
    log_links = Path("/var/log/containers")
    assert not [link for link in (log_links.iterdir() if log_links.is_dir() else [])
                if os.readlink(link).startswith(str(node.home))]


def _cmdline_mentions(proc: Path, node: Node) -> bool:
    try:
        cmdline = (proc / "cmdline").read_bytes()
    except OSError:
        return False
    return str(node.home).encode() in cmdline or str(node.bin_dir).encode() in cmdline


def _iptables() -> list[str]:
    rules = []
    for tool in ("iptables-save", "ip6tables-save"):
        out = subprocess.run([tool], capture_output=True, text=True, check=True).stdout
        rules += [line for line in out.splitlines() if line.startswith(("-A", ":"))
                  and not line.startswith((":INPUT", ":OUTPUT", ":FORWARD", ":PREROUTING", ":POSTROUTING"))]
    return rules
