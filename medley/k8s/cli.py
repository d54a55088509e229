"""`medley k8s up|down|status`: the local control plane for chart tests, as long-lived processes."""

from __future__ import annotations

from medley.config import Config
from medley.console import say, table
from medley.errors import ExitCode


def add_arguments(parser) -> None:
    parser.add_argument("action", choices=["up", "down", "status"])
    for name, default in (("apiserver", 6443), ("etcd", 2379), ("etcd-peer", 2380),
                          ("controller-manager", 10257)):
        parser.add_argument(f"--{name}-port", type=int, dest=f"{name.replace('-', '_')}_port",
                            help=f"(up) port on 127.0.0.1 (default: k8s.ports.{name.replace('-', '_')} "
                                 f"in medley.yaml, else {default})")


def _plane(cfg: Config, args):
    from medley.bootstrap import controlplane, ensure
    from medley.k8s.controlplane import ControlPlane, Ports

    ports = Ports.from_config(cfg, **{name: getattr(args, f"{name}_port", None)
                                      for name in ("apiserver", "etcd", "etcd_peer", "controller_manager")})
    bins = ensure(cfg, "controlplane") if args.action == "up" else controlplane.bin_dir(cfg)
    return ControlPlane.for_config(cfg, bins, ports)


def run(cfg: Config, args) -> int:
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
