"""The images an environment needs: every container and init container of its sites' rendered pods."""

from __future__ import annotations

from typing import Any

from edgeai import fleet


def pod_images(objects: list[dict[str, Any]]) -> set[str]:
    """Every container and init container image of the workloads among `objects`."""
    out = set()
    for obj in objects:
        spec = obj.get("spec", {})
        template = spec.get("jobTemplate", {}).get("spec", spec).get("template", {}) if obj.get("kind") == "CronJob" \
            else spec.get("template", {})
        pod = template.get("spec", spec if obj.get("kind") == "Pod" else {})
        for key in ("initContainers", "containers"):
            out.update(c["image"] for c in pod.get(key, []) if c.get("image"))
    return out


def environment_images(env_name: str, environments=None) -> dict[str, list[str]]:
    """image reference -> the sites that run it, over every site of the environment: its releases
    (rendered with helm) and its Argo CD (the site stack installs one on every site)."""
    from edgeai.gitops import argocd
    from edgeai.render import render_site
    env = fleet.load_fleet([env_name], root=environments)[0]
    gitops = pod_images(argocd.install_objects(env))
    sites: dict[str, list[str]] = {}
    for site in env.sites.values():
        objects = [o for rr in render_site(env, site) for o in rr.objects]
        for ref in pod_images(objects) | gitops:
            sites.setdefault(ref, []).append(site.name)
    return dict(sorted(sites.items()))
