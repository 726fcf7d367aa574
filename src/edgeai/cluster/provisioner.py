"""A minimal dynamic volume provisioner for the local cluster (there is no CSI driver without a kubelet).

It speaks the external-provisioner protocol, in small, the way rancher's local-path provisioner
does on kind: the StorageClass is WaitForFirstConsumer, so the scheduler first picks a node for
the pod and writes it on the claim (volume.kubernetes.io/selected-node); this process then creates
a `local` PersistentVolume on that node, pre-bound to the claim (claimRef), and the API server's
own PV controller binds the two. A claim deleted takes its volume with it (reclaim policy Delete).
The volume's directory lives under the cluster's state directory; nothing writes to it (no
container runs), but the PV is a real one and StatefulSets with volumeClaimTemplates roll out.

Run by `edgeai cluster up` as `python -m edgeai.cluster.provisioner ...` and tracked like the
other processes. Standard library only, and the pinned kubectl as its client: one long-lived
`kubectl get --watch` instead of polling.
"""

from __future__ import annotations

import argparse
import codecs
import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

PROVISIONER = "edgeai.io/local-volume"
SELECTED_NODE = "volume.kubernetes.io/selected-node"
PROVISIONED_BY = "pv.kubernetes.io/provisioned-by"
HOSTNAME = "kubernetes.io/hostname"


def storage_class(name: str) -> dict[str, Any]:
    """The cluster's default StorageClass, named as the site file says (storageClass)."""
    return {
        "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
        "metadata": {"name": name, "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
        "provisioner": PROVISIONER,
        "reclaimPolicy": "Delete",
        "volumeBindingMode": "WaitForFirstConsumer",
    }


def volume_for(claim: dict[str, Any], node: str, path: Path) -> dict[str, Any]:
    meta, spec = claim["metadata"], claim["spec"]
    return {
        "apiVersion": "v1", "kind": "PersistentVolume",
        "metadata": {"name": f"pvc-{meta['uid']}", "annotations": {PROVISIONED_BY: PROVISIONER}},
        "spec": {
            "capacity": {"storage": spec["resources"]["requests"]["storage"]},
            "accessModes": spec.get("accessModes") or ["ReadWriteOnce"],
            "volumeMode": spec.get("volumeMode", "Filesystem"),
            "storageClassName": spec["storageClassName"],
            "persistentVolumeReclaimPolicy": "Delete",
            "claimRef": {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "namespace": meta["namespace"],
                         "name": meta["name"], "uid": meta["uid"]},
            "local": {"path": str(path)},
            "nodeAffinity": {"required": {"nodeSelectorTerms": [
                {"matchExpressions": [{"key": HOSTNAME, "operator": "In", "values": [node]}]}]}},
        },
    }


class Provisioner:
    def __init__(self, kubectl: str, kubeconfig: str, volumes: Path, storage_class_name: str):
        self.base = [kubectl, "--kubeconfig", kubeconfig]
        self.volumes = volumes
        self.storage_class = storage_class_name

    def _kubectl(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
        return subprocess.run([*self.base, *args], input=stdin, capture_output=True, text=True, check=False)

    def _wants_volume(self, claim: dict[str, Any]) -> str | None:
        """The selected node when the claim is ours and waits for a volume, else None."""
        spec, status = claim.get("spec", {}), claim.get("status", {})
        node = claim["metadata"].get("annotations", {}).get(SELECTED_NODE)
        if spec.get("storageClassName") != self.storage_class or spec.get("volumeName"):
            return None
        return node if status.get("phase", "Pending") == "Pending" else None

    def provision(self, claim: dict[str, Any], node: str) -> None:
        path = self.volumes / f"pvc-{claim['metadata']['uid']}"
        path.mkdir(parents=True, exist_ok=True)
        proc = self._kubectl("create", "-f", "-", stdin=json.dumps(volume_for(claim, node, path)))
        if proc.returncode == 0:
            meta = claim["metadata"]
            log(f"provisioned pvc-{meta['uid']} for {meta['namespace']}/{meta['name']} on {node}")
        elif "AlreadyExists" not in proc.stderr:
            log(f"error: creating the volume of {claim['metadata']['name']}: {proc.stderr.strip()}")

    def release(self, claim_uid: str | None = None) -> None:
        """Delete our volumes whose claim is gone (the claim's uid), or every Released one of ours."""
        proc = self._kubectl("get", "pv", "-o", "json")
        if proc.returncode != 0:
            return
        for pv in json.loads(proc.stdout)["items"]:
            mine = pv["metadata"].get("annotations", {}).get(PROVISIONED_BY) == PROVISIONER
            ref = pv["spec"].get("claimRef") or {}
            gone = ref.get("uid") == claim_uid if claim_uid else pv.get("status", {}).get("phase") == "Released"
            if mine and gone and pv["spec"].get("persistentVolumeReclaimPolicy") == "Delete":
                name = pv["metadata"]["name"]
                if self._kubectl("delete", "pv", name, "--wait=false").returncode == 0:
                    shutil.rmtree(self.volumes / name, ignore_errors=True)
                    log(f"deleted {name} (its claim is gone)")

    def handle(self, event: dict[str, Any]) -> None:
        claim = event.get("object") or {}
        if claim.get("kind") != "PersistentVolumeClaim":
            return
        if event.get("type") == "DELETED":
            self.release(claim["metadata"]["uid"])
        elif node := self._wants_volume(claim):
            self.provision(claim, node)

    def run_once(self) -> None:
        """One watch of every claim (kubectl lists them first as ADDED events), until it ends."""
        self.release()
        with subprocess.Popen([*self.base, "get", "pvc", "--all-namespaces", "--watch", "--output-watch-events",
                               "-o", "json"], stdout=subprocess.PIPE, stderr=sys.stderr) as watch:
            assert watch.stdout is not None
            for event in json_stream(watch.stdout):
                self.handle(event)


def json_stream(stream) -> Iterator[dict[str, Any]]:
    """JSON documents one after the other (kubectl's -o json watch output is not line-delimited)."""
    decoder, text, buffer = json.JSONDecoder(), codecs.getincrementaldecoder("utf-8")(), ""
    while chunk := stream.read1(65536):
        buffer += text.decode(chunk)
        while True:
            buffer = buffer.lstrip()
            try:
                doc, end = decoder.raw_decode(buffer)
            except ValueError:
                break   # incomplete document: read more
            buffer = buffer[end:]
            yield doc


def log(message: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {message}", flush=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m edgeai.cluster.provisioner", description=__doc__.split("\n")[0])
    p.add_argument("--kubectl", required=True)
    p.add_argument("--kubeconfig", required=True)
    p.add_argument("--volumes", required=True, type=Path, help="directory of the volumes")
    p.add_argument("--storage-class", required=True, help="the StorageClass whose claims this serves")
    args = p.parse_args(argv)
    provisioner = Provisioner(args.kubectl, args.kubeconfig, args.volumes, args.storage_class)
    log(f"{PROVISIONER}: serving StorageClass {args.storage_class}, volumes in {args.volumes}")
    while True:   # a watch ends when the API server closes it (or restarts): start another
        provisioner.run_once()
        time.sleep(1)


if __name__ == "__main__":
    sys.exit(main())
