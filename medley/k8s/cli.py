"""`medley k8s up|down|status`: the local control plane for chart tests, or with --node a real
single-node cluster (medley/k8s/node.py), as long-lived processes."""

from __future__ import annotations

from pathlib import Path

from medley.config import Config
from medley.console import say, table
from medley.errors import ExitCode

PORT_NAMES = ("apiserver", "etcd", "etcd_peer", "controller_manager", "scheduler")


def add_arguments(parser) -> None:
    parser.add_argument("action", choices=["up", "down", "status"])
    parser.add_argument("--node", action="store_true",
                        help="(up) a real single-node cluster: kubelet, containerd, kube-proxy, CoreDNS and a "
                             "storage class, on 198.18.0.0/15 addresses (see docs/control-plane.md)")
    parser.add_argument("--node-home", type=Path,
                        help="where the node keeps its state (default: k8s.node.home in medley.yaml, "
                             "else ~/.local/share/medley-node)")
    for name, default in (("apiserver", 6443), ("etcd", 2379), ("etcd-peer", 2380),
                          ("controller-manager", 10257), ("scheduler", 10259)):
        parser.add_argument(f"--{name}-port", type=int, dest=f"{name.replace('-', '_')}_port",
                            help=f"(up) port (default: k8s.ports.{name.replace('-', '_')} "
                                 f"in medley.yaml, else {default})")


def _ports(args) -> dict:
    return {name: getattr(args, f"{name}_port", None) for name in PORT_NAMES}


def _plane(cfg: Config, args):
    from medley.bootstrap import controlplane, ensure
    from medley.k8s.controlplane import ControlPlane, Ports

    ports = Ports.from_config(cfg, **_ports(args))
    bins = ensure(cfg, "controlplane") if args.action == "up" else controlplane.bin_dir(cfg)
    return ControlPlane.for_config(cfg, bins, ports)


def _node(cfg: Config, args):
    from medley.k8s.node import Node

    return Node.for_config(cfg, getattr(args, "node_home", None), **_ports(args))


def run(cfg: Config, args) -> int:
    node = _node(cfg, args)
    if args.action == "up" and args.node:
        cluster = node.start()
        say(table(["component", "pid", "port", "log"], node.status()))
        say(f"node {cluster.server} is Ready; use it with:\n  export KUBECONFIG={cluster.kubeconfig}\n"
            f"  export PATH={cluster.bin_dir}:$PATH   # kubectl")
        return int(ExitCode.OK)
    if args.action == "down" and node.is_up():
        stopped = node.stop()
        left = node.leftovers()
        say(f"node stopped ({', '.join(stopped) or 'no processes'}); "
            + (f"left behind: {left}" if left else "nothing left behind"))
        if not _plane(cfg, args).running_components():
            return int(ExitCode.OK)
    if args.action == "status" and node.is_up():
        say(table(["component", "pid", "port", "log"], node.status()))
        say(f"kubeconfig: {node.plane.kubeconfig}")
        return int(ExitCode.OK)
    plane = _plane(cfg, args)
    if args.action == "up":
        cluster = plane.start()
        say(table(["component", "pid", "port", "log"], plane.status()))
        say(f"API server {cluster.server} is ready; use it with:\n  export KUBECONFIG={cluster.kubeconfig}\n"
            f"  export PATH={cluster.bin_dir}:$PATH   # kubectl")
    elif args.action == "down":
        stopped = plane.stop()
        say(f"stopped {', '.join(stopped)}" if stopped else "nothing was running")
    else:
        say(table(["component", "pid", "port", "log"], plane.status()))
        say(f"kubeconfig: {plane.kubeconfig}")
    return int(ExitCode.OK)
