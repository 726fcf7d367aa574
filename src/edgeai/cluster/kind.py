"""The `kind` provider: real nodes in containers, when a container engine answers (users' machines, CI).

The kind config mirrors the site file: one control-plane node plus one worker per declared node,
each worker labelled like the site's nodes (region, edgeai.io/*, and on GPU nodes the
nvidia.com/gpu.* labels; see edgeai.cluster.nodes for why no taint). A kind node has no GPU, so the
`nvidia.com/gpu` capacity is advertised by patching the node's status, the documented way to
advertise an extended resource. The site's storage class (e.g. `local-path`) is created on top of
the local-path provisioner kind ships, and made the default.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

from edgeai import tools
from edgeai.cluster import nodes
from edgeai.cluster.kube import Kubectl, wait_for
from edgeai.cluster.state import ClusterInfo
from edgeai.fleet import Environment, Site

API_VERSION = "kind.x-k8s.io/v1alpha4"
KIND_PROVISIONER = "rancher.io/local-path"   # the provisioner of kind's own `standard` class
DEFAULT_CLASS = "storageclass.kubernetes.io/is-default-class"
# Labels the kubelet sets itself (and the container's name is the node's hostname).
KUBELET_LABELS = ("kubernetes.io/hostname", "kubernetes.io/os", "kubernetes.io/arch")
IMAGE_ENV = "EDGEAI_KIND_NODE_IMAGE"


def node_image(env: Environment) -> str:
    """kindest/node at the environment's Kubernetes version, unless $EDGEAI_KIND_NODE_IMAGE says otherwise."""
    return os.environ.get(IMAGE_ENV) or f"kindest/node:v{env.kubernetes_version}"


def kind_config(env: Environment, site: Site, name: str, image: str) -> dict[str, Any]:
    workers = []
    for spec in nodes.site_nodes(env, site):
        workers.append({"role": "worker", "image": image,
                        "labels": {k: v for k, v in spec.labels.items() if k not in KUBELET_LABELS}})
    return {"kind": "Cluster", "apiVersion": API_VERSION, "name": name,
            "nodes": [{"role": "control-plane", "image": image}, *workers]}


def storage_class(name: str) -> dict[str, Any]:
    return {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
            "metadata": {"name": name, "annotations": {DEFAULT_CLASS: "true"}},
            "provisioner": KIND_PROVISIONER, "reclaimPolicy": "Delete",
            "volumeBindingMode": "WaitForFirstConsumer"}


def kind_binary() -> str:
    found = shutil.which("kind") or next((str(p) for p in [Path.home() / "go" / "bin" / "kind"] if p.is_file()), None)
    pinned = tools.pinned_versions().get("KIND_VERSION", "")
    if not found:
        raise tools.ToolMissing("kind is not installed; install it with: "
                                f"go install sigs.k8s.io/kind@{pinned or 'latest'}")
    return found


class KindCluster:
    provider = "kind"

    def __init__(self, info: ClusterInfo):
        self.info = info

    def _env(self) -> dict[str, str]:
        from edgeai.cluster import container_engine
        env = dict(os.environ)
        if container_engine() == "podman":
            env["KIND_EXPERIMENTAL_PROVIDER"] = "podman"
        return env

    def _kind(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        proc = subprocess.run([kind_binary(), *args], capture_output=True, text=True, check=False, env=self._env())
        if check and proc.returncode != 0:
            raise RuntimeError(f"kind {' '.join(args[:2])} failed: {proc.stderr.strip()}")
        return proc

    def exists(self) -> bool:
        return self.info.name in self._kind("get", "clusters").stdout.split()

    def _ensure_image(self, image: str, env: Environment) -> str:
        """The node image, pulled; when kind publishes none for this patch version, built from the
        Kubernetes release binaries (`kind build node-image --type release`, kind >= 0.32)."""
        from edgeai.cluster import container_engine
        engine = container_engine() or "docker"
        if subprocess.run([engine, "image", "inspect", image], capture_output=True, check=False).returncode == 0:
            return image
        if subprocess.run([engine, "pull", image], capture_output=True, check=False).returncode == 0:
            return image
        if os.environ.get(IMAGE_ENV):
            raise RuntimeError(f"cannot pull the node image {image} (${IMAGE_ENV})")
        built = f"edgeai/kind-node:v{env.kubernetes_version}"
        self._kind("build", "node-image", "--type", "release", f"v{env.kubernetes_version}", "--image", built)
        return built

    def up(self, env: Environment, site: Site, log=print) -> None:
        self.info.dir.mkdir(parents=True, exist_ok=True)
        if not self.exists():
            image = self._ensure_image(node_image(env), env)
            config = self.info.dir / "kind-config.yaml"
            config.write_text(yaml.safe_dump(kind_config(env, site, self.info.name, image), sort_keys=False))
            log(f"creating kind cluster {self.info.name} ({1 + site.node_count} nodes, {image})")
            self._kind("create", "cluster", "--name", self.info.name, "--config", str(config),
                       "--kubeconfig", str(self.info.kubeconfig), "--wait", "5m")
        else:
            self._kind("export", "kubeconfig", "--name", self.info.name, "--kubeconfig", str(self.info.kubeconfig))
        kubectl = Kubectl(self.info.kubeconfig)
        self._storage(kubectl, site.storage_class)
        self._advertise_gpus(kubectl)
        config = yaml.safe_load(self.info.kubeconfig.read_text())
        self.info.server = config["clusters"][0]["cluster"]["server"]
        self.info.save()
        log(f"cluster {self.info.name} (kind) is up: {self.info.server}, kubeconfig {self.info.kubeconfig}")

    @staticmethod
    def _storage(kubectl: Kubectl, name: str) -> None:
        for sc in kubectl.items("storageclasses"):
            if sc["metadata"]["name"] != name and sc["metadata"].get("annotations", {}).get(DEFAULT_CLASS) == "true":
                kubectl.run("annotate", "storageclass", sc["metadata"]["name"], f"{DEFAULT_CLASS}=false", "--overwrite")
        if not any(sc["metadata"]["name"] == name for sc in kubectl.items("storageclasses")):
            kubectl.apply([storage_class(name)])

    @staticmethod
    def _advertise_gpus(kubectl: Kubectl) -> None:
        for node in kubectl.items("nodes", "-l", f"{nodes.GPU_PRESENT}=true"):
            count = node["metadata"]["labels"].get(nodes.GPU_COUNT, "1")
            patch = [{"op": "add", "path": "/status/capacity/nvidia.com~1gpu", "value": count}]
            kubectl.run("patch", "node", node["metadata"]["name"], "--subresource=status", "--type=json",
                        "-p", json.dumps(patch))
        wait_for("GPU capacity to become allocatable", lambda: all(
            n.get("status", {}).get("allocatable", {}).get(nodes.GPU_RESOURCE)
            for n in kubectl.items("nodes", "-l", f"{nodes.GPU_PRESENT}=true")), 60)

    def down(self) -> list[str]:
        if self.exists():
            self._kind("delete", "cluster", "--name", self.info.name)
            return [f"kind cluster {self.info.name}"]
        return []

    def processes(self) -> list[tuple[str, int | None, bool]]:
        try:
            return [(f"kind cluster {self.info.name}", None, self.exists())]
        except (RuntimeError, tools.ToolMissing):
            return [(f"kind cluster {self.info.name}", None, False)]

    def healthy(self) -> bool:
        try:
            return self.exists() and bool(Kubectl(self.info.kubeconfig).run("get", "--raw", "/readyz"))
        except Exception:   # noqa: BLE001 - any failure means not healthy
            return False
