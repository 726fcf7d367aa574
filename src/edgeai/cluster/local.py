"""The `local` provider: a real control plane from Kubernetes' own binaries, with kwok as the nodes.

etcd, kube-apiserver, kube-controller-manager and kube-scheduler at the pinned version, configured
as a small kubeadm cluster would be (TLS everywhere with the cluster's own CA, client certificates,
authorization Node,RBAC, the default admission plugins plus NodeRestriction, so Pod Security
admission is active), all on 127.0.0.1 at free ports. kwok plays the kubelets of the nodes the
site file declares; edgeai.cluster.provisioner binds volumes. No container runs: pods are
scheduled, "started" by kwok's stages and reported Ready, which is what a rollout waits for.

Every process is tracked by a pid file in the state directory (edgeai.cluster.processes); `up`
on a cluster whose processes died (a reboot, a crash) starts them again on the same data.
"""

from __future__ import annotations

import ssl
import sys
import time
import urllib.request
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from edgeai.cluster import binaries, nodes, pki, provisioner
from edgeai.cluster.kube import Kubectl, wait_for
from edgeai.cluster.processes import ProcessTable, alive, command_line
from edgeai.cluster.state import ClusterInfo
from edgeai.fleet import Environment, Site
from edgeai.ports import bindable, free_ports

SERVICE_CIDR = "10.96.0.0/16"        # the API server's own Service takes its first address, 10.96.0.1
POD_CIDR = "10.244.0.0/16"           # kwok hands pod IPs out of this range
SA_ISSUER = "https://kubernetes.default.svc.cluster.local"
KWOK_ANNOTATION = ("kwok.x-k8s.io/node", "fake")   # kwok manages the nodes carrying it, and only those
PORTS = ("etcd", "etcd-peer", "apiserver", "controller-manager", "scheduler")
# Start order; `down` stops them in reverse.
PROCESSES = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok", "provisioner")
START_TIMEOUT = 90.0


@dataclass(frozen=True)
class Layout:
    """The files of one local cluster under its state directory."""
    dir: Path

    @property
    def pki(self) -> pki.Pki:
        return pki.Pki(self.dir / "pki")

    @property
    def etcd_data(self) -> Path:
        return self.dir / "etcd"

    @property
    def volumes(self) -> Path:
        return self.dir / "volumes"

    def kubeconfig(self, identity: pki.Identity) -> Path:
        return self.dir / "kubeconfig" if identity is pki.ADMIN else self.dir / "kubeconfigs" / identity.file


def kubeconfig(server: str, ca: Path, cert: Path, key: Path, user: str, name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": name, "cluster": {"server": server, "certificate-authority": str(ca)}}],
        "users": [{"name": user, "user": {"client-certificate": str(cert), "client-key": str(key)}}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": user}}],
        "current-context": name,
    }


def stage_files() -> list[Path]:
    """kwok's Stage configs shipped with the package (edgeai/cluster/stages/*.yaml)."""
    folder = resources.files("edgeai.cluster").joinpath("stages")
    return sorted(Path(str(f)) for f in folder.iterdir() if f.name.endswith(".yaml"))


def _component_of(argv: tuple[str, ...]) -> str | None:
    """Which of PROCESSES a command line runs (the provisioner's kubectl watch counts as the provisioner)."""
    if "edgeai.cluster.provisioner" in argv or (argv and Path(argv[0]).name == "kubectl"):
        return "provisioner"
    name = Path(argv[0]).name if argv else ""
    return name if name in PROCESSES else None


# Taints the node lifecycle controller puts on a node until it has seen the node Ready.
LIFECYCLE_TAINTS = frozenset({"node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"})


def node_ready(node: dict[str, Any]) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True" for c in node.get("status", {}).get("conditions", []))


def node_schedulable(node: dict[str, Any]) -> bool:
    """Ready, and the controller manager has lifted its not-ready taint (it lags the Ready condition by
    up to its node monitor period: until then no pod without a toleration is scheduled there)."""
    taints = {t.get("key") for t in node.get("spec", {}).get("taints") or []}
    return node_ready(node) and not taints & LIFECYCLE_TAINTS


class LocalCluster:
    provider = "local"

    def __init__(self, info: ClusterInfo):
        self.info = info
        self.files = Layout(info.dir)
        self.table = ProcessTable(info.dir)
        self.storage_class = "local-path"   # the site's, set by up()

    # -- command lines ------------------------------------------------------------------------
    def _argv(self, name: str) -> list[str]:
        p, f, ports = self.files.pki, self.files, self.info.ports
        host = "127.0.0.1"
        if name == "etcd":
            peer = f"http://{host}:{ports['etcd-peer']}"  # a one-member cluster: no peer ever connects
            client = f"https://{host}:{ports['etcd']}"
            return [binaries.find("etcd"), "--name", "edgeai", "--data-dir", str(f.etcd_data),
                    "--listen-client-urls", client, "--advertise-client-urls", client,
                    "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
                    "--initial-cluster", f"edgeai={peer}", "--initial-cluster-state", "new",
                    "--cert-file", str(p.cert("etcd-server")), "--key-file", str(p.key("etcd-server")),
                    "--trusted-ca-file", str(p.cert("etcd-ca")), "--client-cert-auth",
                    "--log-level", "warn"]
        if name == "kube-apiserver":
            return [binaries.find(name),
                    "--bind-address", host, "--advertise-address", host,
                    "--secure-port", str(ports["apiserver"]),
                    "--etcd-servers", f"https://{host}:{ports['etcd']}",
                    "--etcd-cafile", str(p.cert("etcd-ca")),
                    "--etcd-certfile", str(p.cert(pki.ETCD_CLIENT.file)),
                    "--etcd-keyfile", str(p.key(pki.ETCD_CLIENT.file)),
                    "--tls-cert-file", str(p.cert("apiserver")), "--tls-private-key-file", str(p.key("apiserver")),
                    "--client-ca-file", str(p.ca),
                    # The aggregation layer, as kubeadm sets it up (its absence only fills the logs
                    # of every component that reads extension-apiserver-authentication).
                    "--requestheader-client-ca-file", str(p.cert("front-proxy-ca")),
                    "--requestheader-allowed-names", pki.FRONT_PROXY_CLIENT.user,
                    "--requestheader-username-headers", "X-Remote-User",
                    "--requestheader-group-headers", "X-Remote-Group",
                    "--requestheader-extra-headers-prefix", "X-Remote-Extra-",
                    "--proxy-client-cert-file", str(p.cert(pki.FRONT_PROXY_CLIENT.file)),
                    "--proxy-client-key-file", str(p.key(pki.FRONT_PROXY_CLIENT.file)),
                    "--service-account-issuer", SA_ISSUER,
                    "--service-account-key-file", str(p.path("sa.pub")),
                    "--service-account-signing-key-file", str(p.path("sa.key")),
                    "--service-cluster-ip-range", SERVICE_CIDR,
                    "--authorization-mode", "Node,RBAC",
                    # The default admission plugins (PodSecurity, ResourceQuota, LimitRanger,
                    # DefaultStorageClass, ...) stay on; kubeadm adds NodeRestriction.
                    "--enable-admission-plugins", "NodeRestriction",
                    # As kubeadm: privileged pods are possible, and Pod Security decides per namespace.
                    "--allow-privileged=true",
                    # The API server's address is loopback, which Endpoints may not hold: no reconciler.
                    "--endpoint-reconciler-type", "none",
                    "--profiling=false"]
        if name in ("kube-controller-manager", "kube-scheduler"):
            identity = pki.CONTROLLER_MANAGER if name == "kube-controller-manager" else pki.SCHEDULER
            config = str(f.kubeconfig(identity))
            port = ports["controller-manager" if identity is pki.CONTROLLER_MANAGER else "scheduler"]
            common = [binaries.find(name), "--kubeconfig", config, "--authentication-kubeconfig", config,
                      "--authorization-kubeconfig", config, "--bind-address", host, "--secure-port", str(port),
                      "--cert-dir", str(self.info.dir / "serving" / name),
                      "--leader-elect=false"]   # one instance; no lease to wait for after a restart
            if identity is pki.SCHEDULER:
                return common
            return [*common,
                    "--use-service-account-credentials=true",
                    "--service-account-private-key-file", str(p.path("sa.key")),
                    "--root-ca-file", str(p.ca),
                    "--cluster-signing-cert-file", str(p.ca), "--cluster-signing-key-file", str(p.key("ca")),
                    "--service-cluster-ip-range", SERVICE_CIDR]
        if name == "kwok":
            key, value = KWOK_ANNOTATION
            configs = [arg for stage in stage_files() for arg in ("--config", str(stage))]
            return [binaries.find("kwok"), "--kubeconfig", str(f.kubeconfig(pki.KWOK)),
                    "--manage-all-nodes=false", f"--manage-nodes-with-annotation-selector={key}={value}",
                    "--cidr", POD_CIDR, "--node-ip", "10.240.0.1",
                    # kwok renews each node's Lease like a kubelet (off unless asked for); without
                    # it the node lifecycle controller marks the nodes NotReady after its grace period.
                    "--node-lease-duration-seconds", "40", *configs]
        if name == "provisioner":
            return [sys.executable, "-m", "edgeai.cluster.provisioner", "--kubectl", binaries.kubectl(),
                    "--kubeconfig", str(f.kubeconfig(pki.PROVISIONER)), "--volumes", str(f.volumes),
                    "--storage-class", self.storage_class]
        raise ValueError(name)

    # -- lifecycle ----------------------------------------------------------------------------
    def up(self, env: Environment, site: Site, log=print) -> None:
        started = time.monotonic()
        missing = binaries.missing()
        if missing:
            binaries.find(missing[0])   # raises ToolMissing with the build command
        self.storage_class = site.storage_class
        self._choose_ports()
        self.info.server = f"https://127.0.0.1:{self.info.ports['apiserver']}"
        self.info.save()
        self.files.pki.create()
        self._write_kubeconfigs()

        self._start("etcd")
        self._start("kube-apiserver")
        wait_for("the API server to be ready", self._api_ready, START_TIMEOUT)
        kubectl = Kubectl(self.info.kubeconfig)
        self._bootstrap(kubectl, env, site)
        for name in PROCESSES[2:]:
            self._start(name)
        specs = nodes.site_nodes(env, site)
        wait_for(f"{len(specs)} node(s) to be Ready and schedulable", lambda: self._nodes_ready(kubectl, specs),
                 START_TIMEOUT)
        # The service-account controller creating `default` proves the controller manager works;
        # pods of a namespace cannot be created before its `default` ServiceAccount exists.
        wait_for("the controller manager (ServiceAccount default/default)",
                 lambda: kubectl.run("get", "serviceaccount", "default", "-n", "default", "-o", "name"),
                 START_TIMEOUT)
        wait_for("the scheduler to be healthy", lambda: self._healthz(self.info.ports["scheduler"]), START_TIMEOUT)
        self._check_all_running()
        log(f"cluster {self.info.name} (local) is up in {time.monotonic() - started:.1f}s: "
            f"{self.info.server}, kubeconfig {self.info.kubeconfig}")

    def _choose_ports(self) -> None:
        """Keep the ports of an existing cluster (etcd remembers its URLs); pick free ones otherwise."""
        ports = self.info.ports
        if all(k in ports for k in PORTS):
            taken = [k for k in PORTS if not bindable(ports[k], reuse_address=True) and not self._own_port(k)]
            if not taken:
                return
            if self.files.etcd_data.exists():
                raise RuntimeError(f"cluster {self.info.name}: port(s) {', '.join(f'{k}={ports[k]}' for k in taken)} "
                                   f"are taken by another program; run `edgeai cluster down` and up again")
        self.info.ports = dict(zip(PORTS, free_ports(len(PORTS)), strict=True))

    def _own_port(self, key: str) -> bool:
        process = {"etcd": "etcd", "etcd-peer": "etcd", "apiserver": "kube-apiserver",
                   "controller-manager": "kube-controller-manager", "scheduler": "kube-scheduler"}[key]
        return self.table.running(process) is not None

    def _write_kubeconfigs(self) -> None:
        p = self.files.pki
        for identity in pki.CLIENTS:
            path = self.files.kubeconfig(identity)
            path.parent.mkdir(parents=True, exist_ok=True)
            config = kubeconfig(self.info.server, p.ca, p.cert(identity.file), p.key(identity.file),
                                identity.user, self.info.name)
            path.write_text(yaml.safe_dump(config, sort_keys=False))
            path.chmod(0o600)

    def _start(self, name: str) -> None:
        if self.table.running(name):
            return
        self.table.stop(name)   # a stale pid file
        self.table.start(name, self._argv(name))

    def _tls(self, identity: pki.Identity | None = pki.ADMIN) -> ssl.SSLContext:
        p = self.files.pki
        ctx = ssl.create_default_context(cafile=str(p.ca))
        if identity is not None:
            ctx.load_cert_chain(str(p.cert(identity.file)), str(p.key(identity.file)))
        return ctx

    def _api_ready(self) -> bool:
        for name in ("etcd", "kube-apiserver"):
            if not self.table.running(name):
                raise RuntimeError(f"{name} exited; see {self.table.logs / (name + '.log')}")
        with urllib.request.urlopen(f"{self.info.server}/readyz", context=self._tls(), timeout=2) as resp:
            return resp.status == 200

    def _healthz(self, port: int) -> bool:
        # The scheduler serves with a self-signed certificate of its own (--cert-dir); this is a
        # liveness probe on loopback, so the certificate is not verified.
        ctx = ssl.create_default_context()
        ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
        with urllib.request.urlopen(f"https://127.0.0.1:{port}/healthz", context=ctx, timeout=2) as resp:
            return resp.status == 200

    def _bootstrap(self, kubectl: Kubectl, env: Environment, site: Site) -> None:
        """RBAC of kwok and the provisioner, the default StorageClass, and the site's nodes.
        Nodes are complete (capacity included) before kwok starts, so it never sees one half made."""
        rbac = [d for d in yaml.safe_load_all(resources.files("edgeai.cluster").joinpath("bootstrap.yaml")
                                              .read_text()) if d]
        specs = nodes.site_nodes(env, site)
        objects = [nodes.kwok_node(s, KWOK_ANNOTATION) for s in specs]
        for obj in objects:
            obj.pop("status")
        kubectl.apply([*rbac, provisioner.storage_class(site.storage_class), *objects])
        for spec in specs:  # the status subresource is not written by an apply of the object itself
            status = nodes.kwok_node(spec, KWOK_ANNOTATION)["status"]
            kubectl.run("patch", "node", spec.name, "--subresource=status", "--type=merge",
                        "-p", yaml.safe_dump({"status": status}))

    @staticmethod
    def _nodes_ready(kubectl: Kubectl, specs: list[nodes.NodeSpec]) -> bool:
        ready = {n["metadata"]["name"] for n in kubectl.items("nodes") if node_schedulable(n)}
        return all(s.name in ready for s in specs)

    def _check_all_running(self) -> None:
        dead = [n for n in PROCESSES if not self.table.running(n)]
        if dead:
            raise RuntimeError(f"cluster {self.info.name}: {', '.join(dead)} exited; logs in {self.table.logs}")

    def down(self) -> list[str]:
        """Stop every process, clients before servers: each by its pid file, and any stray (a process
        naming the state directory whose pid file is lost or stale) in the place of what it runs,
        since an API server still serving a stray kwok takes long to shut down."""
        strays = {pid: _component_of(command_line(pid) or ()) for pid in self.table.strays()}
        stopped = []
        for name in reversed(PROCESSES):
            if self.table.running(name):
                stopped.append(name)
            self.table.stop(name)
            mine = [pid for pid, component in strays.items() if component == name]
            stopped += [f"stray pid {pid} ({name})" for pid in self.table.stop_strays(only=mine)]
        return stopped + [f"stray pid {pid}" for pid in self.table.stop_strays()]

    def processes(self) -> list[tuple[str, int | None, bool]]:
        """(name, pid, running) of every process of the cluster."""
        out = []
        for name in PROCESSES:
            tracked = self.table.get(name)
            out.append((name, tracked.pid if tracked else None,
                        bool(tracked and alive(tracked.pid, tracked.argv))))
        return out

    def healthy(self) -> bool:
        try:
            return all(running for _, _, running in self.processes()) and self._api_ready()
        except (OSError, RuntimeError, ValueError):
            return False
