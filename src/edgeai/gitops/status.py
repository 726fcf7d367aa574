"""`edgeai status --env E [--site S]`: what each site's Argo CD has done, read from the site itself.

Per site: each Application (the root one: site-<name>) with the revision it synced, its sync and health
status, the objects that drifted (live differs from Git: OutOfSync), what is pending (an operation
running, or a newer commit in Git than the one synced) and the last sync's result.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from edgeai import cluster, fleet
from edgeai.cluster.kube import Kubectl, KubectlError
from edgeai.gitops import argocd, gitserver

EXIT_OK, EXIT_NOT_SYNCED, EXIT_INPUT = 0, 1, 2


def _kubeconfig(env_name: str, site_name: str, given: str | None) -> Path | None:
    if given:
        return Path(given)
    from edgeai.cluster.state import ClusterInfo

    info = ClusterInfo.load(cluster.cluster_name(env_name, site_name))
    return info.kubeconfig if info else None


def git_head(repo_url: str, revision: str) -> str | None:
    """The commit Git serves for the tracked revision (the local site's server from this host)."""
    url = gitserver.HOST_URL if "//" + gitserver.NAME + ":" in repo_url else repo_url
    if len(revision) == 40:
        return revision
    ref = "HEAD" if revision == "HEAD" else revision
    proc = subprocess.run(["git", "ls-remote", url, ref], capture_output=True, text=True, timeout=20, check=False)
    if proc.returncode != 0 or not proc.stdout.strip():
        return None
    return proc.stdout.split()[0]


def application_status(app: dict[str, Any], head: str | None) -> dict[str, Any]:
    status = app.get("status", {})
    sync = status.get("sync", {})
    operation = status.get("operationState", {})
    drift = [f"{r.get('kind')}/{r.get('namespace', '') + '/' if r.get('namespace') else ''}{r.get('name')}"
             for r in status.get("resources", []) if r.get("status") == "OutOfSync"]
    pending = []
    if operation.get("phase") == "Running":
        pending.append(f"sync running ({operation.get('message', '')})".strip())
    if head and sync.get("revision") and head != sync.get("revision"):
        pending.append(f"Git has {head[:12]}, not synced yet")
    return {"application": app["metadata"]["name"], "revision": sync.get("revision", ""),
            "sync": sync.get("status", "Unknown"), "health": status.get("health", {}).get("status", "Unknown"),
            "drift": drift, "pending": pending,
            "lastSync": {"phase": operation.get("phase"), "finishedAt": operation.get("finishedAt"),
                         "message": operation.get("message")} if operation else None}


def site_status(env, site, kubeconfig: Path) -> dict[str, Any]:
    kubectl = Kubectl(kubeconfig)
    apps = kubectl.items("applications.argoproj.io", "-n", argocd.NAMESPACE)
    head = git_head(env.gitops["repoURL"], env.gitops["targetRevision"])
    return {"site": f"{env.name}/{site.name}", "git": {"repoURL": env.gitops["repoURL"],
                                                       "targetRevision": env.gitops["targetRevision"], "head": head},
            "applications": [application_status(a, head) for a in apps]}


def main(args: argparse.Namespace) -> int:
    env = fleet.load_fleet([args.env], root=args.environments)[0]
    sites = [s for name, s in sorted(env.sites.items()) if args.site in (None, name)]
    if not sites:
        print(f"error: no site '{args.site}' in environment '{env.name}'", file=sys.stderr)
        return EXIT_INPUT
    results, healthy = [], True
    for site in sites:
        kubeconfig = _kubeconfig(env.name, site.name, args.kubeconfig)
        if kubeconfig is None:
            results.append({"site": f"{env.name}/{site.name}", "error": "no cluster known here (--kubeconfig)"})
            healthy = False
            continue
        try:
            results.append(site_status(env, site, kubeconfig))
        except (KubectlError, OSError, subprocess.TimeoutExpired) as err:
            reason = ("Argo CD is not installed there (the site stack or `edgeai up` installs it)"
                      if "resource type" in str(err) else f"cannot read its Argo CD: {err}")
            results.append({"site": f"{env.name}/{site.name}", "error": reason})
            healthy = False
    for r in results:
        healthy &= all(a["sync"] == "Synced" and a["health"] == "Healthy" and not a["pending"]
                       for a in r.get("applications", [])) and bool(r.get("applications"))
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        sys.stdout.write(table(results))
    return EXIT_OK if healthy else EXIT_NOT_SYNCED


def table(results: list[dict[str, Any]]) -> str:
    lines = []
    for r in results:
        if "error" in r:
            lines.append(f"{r['site']}: {r['error']}")
            continue
        git = r["git"]
        lines.append(f"{r['site']}: tracks {git['repoURL']} {git['targetRevision']}"
                     f" (Git: {git['head'][:12] if git['head'] else 'unreachable from here'})")
        if not r["applications"]:
            lines.append("  no Application (is Argo CD installed? edgeai up / the site stack installs it)")
        for a in r["applications"]:
            lines.append(f"  {a['application']:<20} synced {a['revision'][:12] or '-':<12}  {a['sync']:<10} "
                         f"{a['health']:<12} drift: {len(a['drift'])}  pending: {'; '.join(a['pending']) or '-'}")
            lines += [f"    drifted  {ref}" for ref in a["drift"][:20]]
    return "\n".join(lines) + "\n"
