"""The `kind` provider: real nodes in containers, when a container engine answers (users' machines, CI).

The kind config mirrors the site file: one control-plane node plus one worker per declared node,
each worker labelled like the site's nodes (region, edgeai.io/*, and on GPU nodes the
nvidia.com/gpu.* labels; see edgeai.cluster.nodes for why no taint). A kind node has no GPU, so the
`nvidia.com/gpu` capacity is advertised by patching the node's status, the documented way to
advertise an extended resource. The site's storage class (e.g. `local-path`) is created on top of
the local-path provisioner kind ships, and made the default.

The node image is kindest/node at the environment's Kubernetes version when it can be had, else
built here by scripts/build-node-image.sh (Debian packages and Go modules only). That image brings
kube-router as the CNI, because it enforces NetworkPolicy: kind's default CNI is then disabled and
kube-router is installed right after the nodes are created (kube-router.yaml). The nodes' containerd
pulls through the registry mirrors of edgeai.cluster.mirrors. Where the engine cannot run privileged
containers, edgeai.cluster.unprivileged wraps docker for the kind process.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from edgeai import paths, tools
from edgeai.cluster import mirrors as registry_mirrors
from edgeai.cluster import nodes, unprivileged
from edgeai.cluster.kube import Kubectl, wait_for
from edgeai.cluster.local import node_schedulable
from edgeai.cluster.state import ClusterInfo
from edgeai.fleet import Environment, Site

API_VERSION = "kind.x-k8s.io/v1alpha4"
KIND_PROVISIONER = "rancher.io/local-path"   # the provisioner of kind's own `standard` class
DEFAULT_CLASS = "storageclass.kubernetes.io/is-default-class"
# Labels the kubelet sets itself (and the container's name is the node's hostname).
KUBELET_LABELS = ("kubernetes.io/hostname", "kubernetes.io/os", "kubernetes.io/arch")
IMAGE_ENV = "EDGEAI_KIND_NODE_IMAGE"
NODE_IMAGE_SCRIPT = "scripts/build-node-image.sh"
# Set on the node images scripts/build-node-image.sh builds: they preload kube-router, not kindnet.
CNI_LABEL = "io.edgeai.kind-node.cni"
CNI_MANIFEST = Path(__file__).with_name("kube-router.yaml")


def node_image(env: Environment) -> str:
    """kindest/node at the environment's Kubernetes version, unless $EDGEAI_KIND_NODE_IMAGE says otherwise."""
    return os.environ.get(IMAGE_ENV) or f"kindest/node:v{env.kubernetes_version}"


def kind_config(env: Environment, site: Site, name: str, image: str, *, mirrors_dir: Path | None = None,
                own_cni: bool = False, unprivileged_nodes: bool = False,
                host_ports: Sequence[int] = ()) -> dict[str, Any]:
    """kind's Cluster config for the site. `mirrors_dir` (host) is mounted as the nodes' containerd
    hosts directory (edgeai.cluster.mirrors); `own_cni` disables kind's CNI for kube-router;
    `unprivileged_nodes` adds the containerd setting edgeai.cluster.unprivileged needs;
    `host_ports` (node ports) are mapped to the same ports on the host's 127.0.0.1."""
    node_fields: dict[str, Any] = {"image": image}
    if mirrors_dir is not None:
        node_fields["extraMounts"] = [{"hostPath": str(mirrors_dir), "containerPath": registry_mirrors.CERTS_DIR,
                                       "readOnly": True}]
    workers = []
    for spec in nodes.site_nodes(env, site):
        workers.append({"role": "worker", **node_fields,
                        "labels": {k: v for k, v in spec.labels.items() if k not in KUBELET_LABELS}})
    control_plane = {"role": "control-plane", **node_fields}
    if host_ports:   # kube-proxy answers a node port on every node: the control plane's will do
        control_plane["extraPortMappings"] = [{"containerPort": p, "hostPort": p, "listenAddress": "127.0.0.1",
                                               "protocol": "TCP"} for p in host_ports]
    config: dict[str, Any] = {"kind": "Cluster", "apiVersion": API_VERSION, "name": name,
                              "nodes": [control_plane, *workers]}
    patches = [registry_mirrors.CONTAINERD_PATCH] if mirrors_dir is not None else []
    if unprivileged_nodes:
        patches.append(unprivileged.CONTAINERD_PATCH)
    if patches:
        config["containerdConfigPatches"] = patches
    if own_cni:
        config["networking"] = {"disableDefaultCNI": True}
    return config


def cni_manifest() -> list[dict[str, Any]]:
    """kube-router's objects, its image at the pinned version (the one the node image preloads)."""
    version = tools.pinned_versions()["KUBE_ROUTER_VERSION"]
    return [doc for doc in yaml.safe_load_all(CNI_MANIFEST.read_text().replace("KUBE_ROUTER_VERSION", version))
            if doc]


def storage_class(name: str) -> dict[str, Any]:
    return {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
            "metadata": {"name": name, "annotations": {DEFAULT_CLASS: "true"}},
            "provisioner": KIND_PROVISIONER, "reclaimPolicy": "Delete",
            "volumeBindingMode": "WaitForFirstConsumer"}


def kind_binary() -> str:
    """kind at the pinned version: on PATH, else built into the cache by scripts/bootstrap-tools.sh."""
    return tools.find("kind")


def built_node_image_tag() -> str:
    """The tag scripts/build-node-image.sh gives the node image of the current sources (no build)."""
    return subprocess.run(["bash", str(paths.ROOT / NODE_IMAGE_SCRIPT), "--tag"], capture_output=True,
                          text=True, check=True).stdout.strip()


def image_present(image: str) -> bool:
    return subprocess.run(["docker", "image", "inspect", image], capture_output=True, check=False).returncode == 0


def has_own_cni(image: str) -> bool:
    """True for node images that preload kube-router (built here) instead of kindnet."""
    proc = subprocess.run(["docker", "image", "inspect", "-f", f'{{{{index .Config.Labels "{CNI_LABEL}"}}}}',
                           image], capture_output=True, text=True, check=False)
    return proc.stdout.strip() == "kube-router"


class KindCluster:
    provider = "kind"

    def __init__(self, info: ClusterInfo, mirrors: dict[str, str] | None = None, host_ports: Sequence[int] = ()):
        self.info = info
        # {registry host: endpoint URL}; None: from $EDGEAI_REGISTRY_MIRRORS (edgeai.cluster.mirrors).
        self.mirrors = registry_mirrors.from_env() if mirrors is None else dict(mirrors)
        self.host_ports = tuple(host_ports)

    @property
    def mirrors_dir(self) -> Path:
        return self.info.dir / "containerd-certs.d"

    def _running_image(self) -> str | None:
        """The image of this cluster's control-plane container, when it exists."""
        proc = subprocess.run(["docker", "inspect", "-f", "{{.Config.Image}}", f"{self.info.name}-control-plane"],
                              capture_output=True, text=True, check=False)
        return proc.stdout.strip() if proc.returncode == 0 else None

    def _env(self, image: str | None = None) -> dict[str, str]:
        """kind's environment; kind runs its nodes (create) and commands in them (`docker exec
        --privileged`, e.g. export kubeconfig) privileged, so the wrapper applies to both."""
        from edgeai.cluster import container_engine
        env = dict(os.environ)
        if container_engine() == "podman":
            env["KIND_EXPERIMENTAL_PROVIDER"] = "podman"
            return env
        image = image or self._running_image()
        if image and not unprivileged.privileged_works(image):
            env = unprivileged.environ(self.info.dir / "unprivileged", env)
        return env

    def _kind(self, *args: str, check: bool = True, image: str | None = None) -> subprocess.CompletedProcess:
        proc = subprocess.run([kind_binary(), *args], capture_output=True, text=True, check=False,
                              env=self._env(image))
        if check and proc.returncode != 0:
            raise RuntimeError(f"kind {' '.join(args[:2])} failed: {proc.stderr.strip()}")
        return proc

    def exists(self) -> bool:
        return self.info.name in self._kind("get", "clusters").stdout.split()

    def _ensure_image(self, image: str, log=print) -> str:
        """The node image: present, else pulled, else (kindest/node only) the one built here from the
        Debian packages and Go modules this machine can reach (scripts/build-node-image.sh)."""
        if image_present(image):
            return image
        overridden = bool(os.environ.get(IMAGE_ENV))
        built = None if overridden else built_node_image_tag()
        if built and image_present(built):
            return built
        if subprocess.run(["docker", "pull", image], capture_output=True, check=False).returncode == 0:
            return image
        if overridden:
            raise RuntimeError(f"cannot pull the node image {image} (${IMAGE_ENV})")
        log(f"cannot pull {image}; building the node image with {NODE_IMAGE_SCRIPT} (about 20 minutes, once)")
        proc = subprocess.run(["bash", str(paths.ROOT / NODE_IMAGE_SCRIPT)], capture_output=True, text=True,
                              check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"{NODE_IMAGE_SCRIPT} failed: {proc.stderr.strip()[-2000:]}")
        return proc.stdout.strip().splitlines()[-1]

    def up(self, env: Environment, site: Site, log=print) -> None:
        self.info.dir.mkdir(parents=True, exist_ok=True)
        registry_mirrors.write_hosts(self.mirrors_dir, self.mirrors)   # live: nodes read it at each pull
        if self.exists() and not self._nodes_running():
            # Node containers stopped (a reboot, dockerd restarted): a kind node does not come back
            # reliably, and the site's state is in Git and the registry, so the cluster is made anew.
            log(f"kind cluster {self.info.name} has stopped nodes: deleting it to create it again")
            self._kind("delete", "cluster", "--name", self.info.name)
        if not self.exists():
            image = self._ensure_image(node_image(env), log)
            own_cni = has_own_cni(image)
            config = self.info.dir / "kind-config.yaml"
            config.write_text(yaml.safe_dump(kind_config(
                env, site, self.info.name, image, mirrors_dir=self.mirrors_dir, own_cni=own_cni,
                unprivileged_nodes=not unprivileged.privileged_works(image), host_ports=self.host_ports),
                sort_keys=False))
            log(f"creating kind cluster {self.info.name} ({1 + site.node_count} nodes, {image})")
            # With its own CNI no node is Ready before kube-router runs: wait below instead of in kind.
            wait = [] if own_cni else ["--wait", "5m"]
            started = time.monotonic()
            self._kind("create", "cluster", "--name", self.info.name, "--config", str(config),
                       "--kubeconfig", str(self.info.kubeconfig), *wait, image=image)
            log(f"kind create cluster: {time.monotonic() - started:.0f}s")
            if own_cni:
                Kubectl(self.info.kubeconfig).apply(cni_manifest())
        else:
            self._kind("export", "kubeconfig", "--name", self.info.name, "--kubeconfig", str(self.info.kubeconfig))
        kubectl = Kubectl(self.info.kubeconfig)
        wait_for(f"{1 + site.node_count} node(s) to be Ready and schedulable", lambda: len(
            [n for n in kubectl.items("nodes") if node_schedulable(n)]) == 1 + site.node_count, 300, 1)
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

    def _nodes_running(self) -> bool:
        names = self._kind("get", "nodes", "--name", self.info.name).stdout.split()
        states = subprocess.run(["docker", "inspect", "--format", "{{.State.Running}}", *names],
                                capture_output=True, text=True, check=False).stdout.split()
        return bool(names) and states == ["true"] * len(names)

    def healthy(self) -> bool:
        try:
            return self.exists() and bool(Kubectl(self.info.kubeconfig).run("get", "--raw", "/readyz"))
        except Exception:   # noqa: BLE001 - any failure means not healthy
            return False
