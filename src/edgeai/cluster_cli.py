"""`edgeai cluster up|down|status` and `edgeai up`: a local cluster shaped like a site, and the site on it.

Registered by edgeai.cli with `cluster_cli.add_parsers(sub)`.
"""

from __future__ import annotations

import argparse
import functools
import subprocess
import sys
from collections.abc import Callable

from edgeai import cluster, fleet, tools
from edgeai.cluster.kube import KubectlError
from edgeai.problems import InputErrors, Problem

EXIT_OK, EXIT_FAILED = 0, 1
DEFAULT_ENV = "local"


def _reported(command: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """A cluster that cannot start (a process exits, a wait times out, kubectl refuses) is a
    failure of the command (exit 1) with its reason, not a traceback. edgeai.cli handles input
    errors and missing tools (exit 2)."""
    @functools.wraps(command)
    def run(args: argparse.Namespace) -> int:
        try:
            return command(args)
        except tools.ToolMissing:
            raise
        except (RuntimeError, TimeoutError, KubectlError, OSError) as err:
            print(f"error: {err}", file=sys.stderr)
            return EXIT_FAILED
    return run


def _site(args: argparse.Namespace):
    """The environment and site: --site, or the environment's only site."""
    env = fleet.load_fleet([args.env], root=args.environments)[0]
    name = args.site
    if name is None:
        if len(env.sites) != 1:
            raise InputErrors([Problem(env.directory / "sites", None, (),
                                       f"environment '{env.name}' has {len(env.sites)} sites; say which with --site",
                                       f"sites: {', '.join(sorted(env.sites))}")])
        name = next(iter(env.sites))
    if name not in env.sites:
        raise InputErrors([Problem(env.directory / "sites" / f"{name}.yaml", None, (),
                                   f"no site '{name}' in environment '{env.name}'",
                                   f"sites: {', '.join(sorted(env.sites))}")])
    return env, env.sites[name]


def _name(args: argparse.Namespace) -> str:
    if args.name:
        return args.name
    env, site = _site(args)
    return cluster.cluster_name(env.name, site.name)


@_reported
def cmd_cluster_up(args: argparse.Namespace) -> int:
    env, site = _site(args)
    cluster.up(env, site, provider=args.provider, name=args.name, log=lambda m: print(m, file=sys.stderr))
    return _print_status(args.name or cluster.cluster_name(env.name, site.name))


@_reported
def cmd_cluster_down(args: argparse.Namespace) -> int:
    name = _name(args)
    stopped = cluster.down(name)
    print(f"cluster {name} is down" + (f" (stopped: {', '.join(stopped)})" if stopped else " (nothing was running)"))
    return EXIT_OK


def _print_status(name: str) -> int:
    found = cluster.status(name)
    if found is None:
        print(f"cluster {name}: not created (edgeai cluster up)")
        return EXIT_FAILED
    info = found.info
    print(f"cluster     {info.name} ({info.provider}; site {info.environment}/{info.site})")
    print(f"api server  {info.server or '-'}  {'ready' if found.healthy else 'NOT READY'}")
    print(f"kubeconfig  {info.kubeconfig}")
    for proc, pid, running in found.processes:
        print(f"process     {proc:<24} pid {pid if pid else '-':<8} {'running' if running else 'STOPPED'}")
    for node in found.nodes:
        extra = ", ".join(f"{k}={v}" for k, v in sorted(node["capacity"].items()) if k in ("cpu", "memory",
                                                                                         "nvidia.com/gpu"))
        taints = ", ".join(f"{t['key']}:{t['effect']}" for t in node["taints"])
        print(f"node        {node['name']:<24} {'Ready' if node['ready'] else 'NotReady':<9} {extra}"
              + (f"  taints {taints}" if taints else ""))
    return EXIT_OK if found.healthy else EXIT_FAILED


@_reported
def cmd_cluster_status(args: argparse.Namespace) -> int:
    return _print_status(_name(args))


@_reported
def cmd_up(args: argparse.Namespace) -> int:
    from edgeai import access, deploy, localcloud
    from edgeai.gitops import local as gitops_local
    from edgeai.images import site as site_images
    from edgeai.render import render_site

    env, site = _site(args)
    log = lambda m: print(m, file=sys.stderr)  # noqa: E731 - progress on stderr, the table on stdout
    objects = [o for rr in render_site(env, site) for o in rr.objects]
    exposed = access.node_ports(objects)
    info = cluster.up(env, site, provider=args.provider, name=args.name, log=log,
                      mirrors=site_images.mirrors(), host_ports=[e.node_port for e in exposed])
    pin = None
    if info.provider == "kind":   # real nodes pull every image from the site registry
        for ref in site_images.provide(env, objects, log):
            log(f"warning: no build definition for {ref}: its pods cannot start on this site")
        pin = site_images.pinned_registry(env)
    only = set(args.release) if args.release else None
    if info.provider == "kind" and localcloud.enabled(env) and not only:
        # The site's MirrorMaker and model pods reach it: up first (edgeai.localcloud).
        localcloud.up(env, info, deploy.site_secret_values(info, deploy.compose(env, site)), pin=pin, log=log)
    with gitops_local.automated_sync_paused(info, site, log):
        return _deploy_and_hand_over(args, env, site, info, exposed, only, pin, log)


def _deploy_and_hand_over(args, env, site, info, exposed, only, pin, log) -> int:
    from edgeai import access, deploy
    from edgeai.cluster.kube import Kubectl

    outcomes = deploy.deploy(env, site, info, timeout=args.timeout, log=log, only=only, pin_registry=pin)
    rows = deploy.status_rows(Kubectl(info.kubeconfig), outcomes)
    sys.stdout.write(deploy.table(rows))
    if info.provider == "kind" and not any(o.action == "failed" for o in outcomes):
        models = [m.name for m in env.placed_models(site)]
        sys.stdout.write(access.summary(exposed, models[0] if models else None,
                                        str(deploy.site_secrets_file(info))))
    failed = [o for o in outcomes if o.action == "failed"]
    for o in failed:
        print(f"error: release {o.release.name} failed (rolled back):\n{o.error}", file=sys.stderr)
    deployed = {o.release.name for o in outcomes}
    skipped = [r.name for r in deploy.compose(env, site) if r.name not in deployed and (not only or r.name in only)]
    if skipped:
        print(f"not deployed (a wave before them failed): {', '.join(skipped)}", file=sys.stderr)
    if failed:
        return EXIT_FAILED
    if info.provider == "kind" and not only and args.gitops:
        _hand_over_to_argocd(env, site, info, log)
    return EXIT_OK


def _hand_over_to_argocd(env, site, info, log) -> None:
    """From here on the site pulls: its Git server serves this checkout's HEAD, and Argo CD syncs
    deploy/<env>/<site>/ from it (docs/gitops.md). What is not committed is not what the site runs."""
    from edgeai import paths
    from edgeai.gitops import local as gitops_local

    dirty = subprocess.run(["git", "status", "--porcelain", "--", "environments", "charts", "deploy"],
                           cwd=paths.ROOT, capture_output=True, text=True, check=False).stdout.strip()
    if dirty:
        log("warning: uncommitted changes under environments/, charts/ or deploy/: helm installed them, "
            "but Argo CD syncs what is committed and will revert them (commit, render, run again; or "
            "--no-gitops while iterating)")
    gitops_local.install(env, site, info, log=log)


def _site_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--env", default=DEFAULT_ENV, help=f"environment (default {DEFAULT_ENV})")
    p.add_argument("--site", help="site whose nodes the cluster has (default: the environment's only site)")
    p.add_argument("--name", help="cluster name (default edgeai-<env>-<site>)")


def add_parsers(subparsers) -> None:
    p = subparsers.add_parser("cluster", help="a local Kubernetes cluster shaped like a site (kind or local)",
                              description="A local cluster with the nodes a site declares: `kind` when a "
                              "container engine answers, else `local` (Kubernetes' own control plane with "
                              "kwok simulating the nodes). State in ~/.cache/edgeai/clusters/<name>/.")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    q = actions.add_parser("up", help="create or resume the cluster")
    _site_options(q)
    q.add_argument("--provider", choices=cluster.PROVIDERS,
                   help="kind (needs docker or podman) or local (default: kind if an engine answers)")
    q.set_defaults(func=cmd_cluster_up)
    q = actions.add_parser("down", help="stop every process of the cluster and delete its state")
    _site_options(q)
    q.set_defaults(func=cmd_cluster_down)
    q = actions.add_parser("status", help="processes, API server, nodes")
    _site_options(q)
    q.set_defaults(func=cmd_cluster_status)

    p = subparsers.add_parser("up", help="bring the cluster up if needed and deploy a site to it",
                              description="Deploy a site to its local cluster exactly as the site's Argo CD "
                              "would: the site-level objects (namespaces, NetworkPolicies, quotas, Secrets), "
                              "then every release with helm, wave by wave; on kind, then the site's Git server, "
                              "Argo CD and its root Application, which keep the site at the committed "
                              "deploy/<env>/<site>/ from then on. Idempotent. Exit 0 when every release is "
                              "healthy and Argo CD synced, 1 when a release failed (it is rolled back) or Argo "
                              "CD did not sync.")
    _site_options(p)
    p.add_argument("--provider", choices=cluster.PROVIDERS, help="cluster provider when it must be created")
    p.add_argument("--timeout", default="5m", help="helm --timeout per release (default 5m)")
    p.add_argument("--release", action="append", metavar="NAME",
                   help="deploy only this release (repeatable; the site-level objects are always applied)")
    p.add_argument("--no-gitops", dest="gitops", action="store_false",
                   help="do not install (or refresh) the site's Git server, Argo CD and root Application "
                   "on kind (default: install them; from then on the site syncs committed changes)")
    p.set_defaults(func=cmd_up)
