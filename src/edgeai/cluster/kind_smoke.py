"""Prove a kind cluster works, with only the images its node image preloads (nothing is pulled).

    python -m edgeai.cluster.kind_smoke ~/.cache/edgeai/clusters/edgeai-local-local/kubeconfig

Checks, each timed: every node Ready; a server pod (etcd from the preloaded control-plane image)
Running on a claim of the default storage class, which local-path binds; its Service answering a
client pod on another node (pod network across nodes, kube-proxy); a default-deny NetworkPolicy
blocking that same connection (the CNI enforces policies); and the connection back once the policy
is gone. Exit status 0 when all hold. The namespace is deleted at the end.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from edgeai.cluster.kube import Kubectl, KubectlError, wait_for

NAMESPACE = "edgeai-smoke"
SERVER_IMAGE = "registry.k8s.io/etcd"          # tag: whatever kubeadm's etcd is in the node image
CLIENT_IMAGE = "docker.io/edgeai/kind-netbase:bookworm"
# bash's /dev/tcp: the Debian base has no curl. etcd answers GET /health with {"health":"true"...}.
PROBE = ("exec 3<>/dev/tcp/server/2379 && printf 'GET /health HTTP/1.0\\r\\n\\r\\n' >&3 "
         "&& timeout 5 cat <&3 | grep -q health")
CONTROL_PLANE = {"key": "node-role.kubernetes.io/control-plane", "operator": "Exists", "effect": "NoSchedule"}


def _etcd_tag(kubectl: Kubectl) -> str:
    pods = kubectl.items("pods", "-n", "kube-system", "-l", "component=etcd")
    return pods[0]["spec"]["containers"][0]["image"].rsplit(":", 1)[1]


def objects(etcd_tag: str) -> list[dict[str, Any]]:
    labels = {"app": "server"}
    return [
        {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data", "namespace": NAMESPACE},
         "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "64Mi"}}}},
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "server", "namespace": NAMESPACE, "labels": labels},
         "spec": {"containers": [{
             "name": "etcd", "image": f"{SERVER_IMAGE}:{etcd_tag}", "imagePullPolicy": "Never",
             "command": ["etcd", "--data-dir=/data/etcd", "--listen-client-urls=http://0.0.0.0:2379",
                         "--advertise-client-urls=http://127.0.0.1:2379"],
             "volumeMounts": [{"name": "data", "mountPath": "/data"}]}],
             "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "data"}}]}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "server", "namespace": NAMESPACE},
         "spec": {"selector": labels, "ports": [{"port": 2379}]}},
        # The client runs on the control-plane node: the server is on a worker, so traffic crosses nodes.
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "client", "namespace": NAMESPACE},
         "spec": {"tolerations": [CONTROL_PLANE],
                  "nodeSelector": {"node-role.kubernetes.io/control-plane": ""},
                  "containers": [{"name": "client", "image": CLIENT_IMAGE, "imagePullPolicy": "Never",
                                  "command": ["sleep", "infinity"]}]}},
    ]


DENY_ALL = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": "default-deny", "namespace": NAMESPACE},
            "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}}


def _connects(kubectl: Kubectl) -> bool:
    try:
        kubectl.run("exec", "-n", NAMESPACE, "client", "--", "timeout", "4", "bash", "-c", PROBE, timeout=30)
        return True
    except KubectlError:
        return False


def _running(kubectl: Kubectl, pod: str) -> bool:
    return kubectl.get("pod", "-n", NAMESPACE, pod).get("status", {}).get("phase") == "Running"


def run(kubectl: Kubectl, log=print) -> bool:
    start = time.monotonic()

    def step(what: str) -> None:
        log(f"{time.monotonic() - start:6.1f}s  {what}")

    nodes = kubectl.items("nodes")
    ready = [n["metadata"]["name"] for n in nodes
             if any(c["type"] == "Ready" and c["status"] == "True" for c in n["status"]["conditions"])]
    step(f"nodes Ready: {len(ready)}/{len(nodes)} ({', '.join(ready)})")
    kubectl.run("create", "namespace", NAMESPACE)
    try:
        kubectl.apply(objects(_etcd_tag(kubectl)))
        start = time.monotonic()
        wait_for("pod server Running", lambda: _running(kubectl, "server"), 180, 0.5)
        step("pod server Running (etcd on a local-path claim)")
        claim = kubectl.get("pvc", "-n", NAMESPACE, "data")
        step(f"claim data {claim['status']['phase']}, class {claim['spec'].get('storageClassName')}, "
             f"volume {claim['spec'].get('volumeName')}")
        wait_for("pod client Running", lambda: _running(kubectl, "client"), 120, 0.5)
        wait_for("Service server to answer the client", lambda: _connects(kubectl), 60, 1)
        step("Service server answers the client (on another node)")
        kubectl.apply([DENY_ALL])
        wait_for("the default-deny policy to block the client", lambda: not _connects(kubectl), 60, 1)
        step("default-deny NetworkPolicy: the same connection is blocked")
        kubectl.run("delete", "networkpolicy", "-n", NAMESPACE, "default-deny")
        wait_for("the connection to work again", lambda: _connects(kubectl), 60, 1)
        step("policy deleted: the connection works again")
        return len(ready) == len(nodes) and claim["status"]["phase"] == "Bound"
    finally:
        kubectl.run("delete", "namespace", NAMESPACE, "--wait=false", check=False)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    ok = run(Kubectl(argv[0]))
    print("kind smoke test:", "passed" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
