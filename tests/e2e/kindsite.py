"""The `local` site on kind, as the e2e tests reach it: kubectl, the host's port mappings, and
clients that run inside the site's own pods (so the rendered client settings and the site's
NetworkPolicies apply to them)."""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from edgeai import gateway_tls
from edgeai.cluster.kube import Kubectl, KubectlError
from edgeai.cluster.state import ClusterInfo

ENV, SITE, CLUSTER = "local", "local", "edgeai-local-local"
UP_TIMEOUT = 60 * 60          # a cold run builds the node image and every image first
HOST = "127.0.0.1"
GATEWAY, GATEWAY_GRPC, PROMETHEUS = 30080, 30081, 30090   # environments/local/environment.yaml
MODEL = "sensor-anomaly"
# The Siddhi runner's image carries the project's Kafka client (tools/engines/harness KafkaTool).
KAFKA_TOOL = ["java", "-XX:TieredStopAtLevel=1", "-Xmx128m", "-cp",
              "/home/siddhi_user/siddhi-runner/classes:/home/siddhi_user/siddhi-runner/lib/*",
              "edgeai.engines.KafkaTool"]
BOOTSTRAP = "kafka.edgeai-kafka.svc.cluster.local:9092"   # as rendered into the Siddhi app


def edgeai(*args: str, timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "edgeai.cli", *args], capture_output=True, text=True,
                          timeout=timeout, check=False)


@dataclass
class KindSite:
    info: ClusterInfo
    deploy_output: str
    kubectl: Kubectl = field(init=False)

    def __post_init__(self) -> None:
        self.kubectl = Kubectl(self.info.kubeconfig)

    @property
    def secrets(self) -> dict[str, str]:
        return json.loads((self.info.dir / "site-secrets.json").read_text())

    @property
    def api_key(self) -> str:
        return self.secrets["gatewayApiKeys"].split()[0]

    def down(self) -> None:
        edgeai("cluster", "down", "--env", ENV, "--site", SITE, timeout=300)

    # --- pods ---------------------------------------------------------------------------------
    def pods(self, namespace: str | None = None) -> list[dict[str, Any]]:
        return self.kubectl.items("pods", *(["-n", namespace] if namespace else ["-A"]))

    def pod(self, namespace: str, selector: str) -> str:
        names = [p["metadata"]["name"] for p in self.kubectl.items("pods", "-n", namespace, "-l", selector)
                 if p["status"].get("phase") == "Running"]
        assert names, f"no running pod {selector} in {namespace}"
        return names[0]

    def exec(self, namespace: str, pod: str, *cmd: str, stdin: str | None = None, timeout: float = 120,
             check: bool = True) -> str:
        return self.kubectl.run("exec", "-i", "-n", namespace, pod, "--", *cmd, stdin=stdin, check=check,
                                timeout=timeout)

    def siddhi_pod(self) -> str:
        return self.pod("edgeai-siddhi", "app.kubernetes.io/component=runner")

    # --- Kafka, from inside the CEP's pod ------------------------------------------------------
    def produce(self, topic: str, records: list[tuple[str, str]], *props: str, timeout: float = 180) -> list[str]:
        """Produce keyed records with the project's client from the Siddhi pod; returns its ack/err lines."""
        lines = "".join(f"{k}\t{v}\n" for k, v in records)
        out = self.exec("edgeai-siddhi", self.siddhi_pod(), *KAFKA_TOOL, "produce", BOOTSTRAP, topic, *props,
                        stdin=lines, timeout=timeout)
        return [line for line in out.splitlines() if line.startswith(("ack ", "err "))]

    def consume(self, topic: str, seconds: float, group: str = "-") -> list[tuple[str, str]]:
        """(key, value) of the topic's records read from the beginning for `seconds`."""
        out = self.exec("edgeai-siddhi", self.siddhi_pod(), "timeout", str(int(seconds)), *KAFKA_TOOL, "consume",
                        BOOTSTRAP, topic, group, "auto.offset.reset=earliest", timeout=seconds + 60, check=False)
        records = []
        for line in out.splitlines():
            if line.startswith("rec "):
                key, _, value = line.split(" ", 5)[5].partition("\t")
                records.append((key, value))
        return records

    # --- the host side ---------------------------------------------------------------------------
    def http(self, port: int, path: str, body: Any = None, headers: dict[str, str] | None = None,
             timeout: float = 30, tls: bool = False) -> tuple[int, Any]:
        """A call from the host; `tls`: https trusting the cluster's own CA (the gateway's external ports)."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"{'https' if tls else 'http'}://{HOST}:{port}{path}", data=data, headers={
            **({"Content-Type": "application/json"} if data else {}), **(headers or {})})
        context = ssl.create_default_context(cafile=str(gateway_tls.ca_file(self.info.dir))) if tls else None
        try:
            with urllib.request.urlopen(request, timeout=timeout, context=context) as resp:
                return resp.status, _json_or_text(resp.read())
        except urllib.error.HTTPError as err:
            return err.code, _json_or_text(err.read())

    def infer(self, row: list[float], key: str | None = None) -> tuple[int, Any]:
        """A V2 REST prediction through the gateway's external TLS port, as an external caller makes it."""
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        body = {"inputs": [{"name": "input-0", "shape": [1, len(row)], "datatype": "FP64", "data": row}]}
        return self.http(GATEWAY, f"/v2/models/{MODEL}/infer", body, headers, tls=True)


def _json_or_text(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode(errors="replace")


def eventually(what: str, probe, timeout: float, interval: float = 2.0):
    """probe() until it returns something truthy (a Service answers ~1 s after its pod is Ready)."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = probe()
            if last:
                return last
        except (KubectlError, OSError, AssertionError) as err:
            last = err
        time.sleep(interval)
    raise AssertionError(f"{what}: not true after {timeout:.0f}s (last: {last})")


def deploy_local_site() -> tuple[KindSite, bool]:
    """`edgeai up --env local` (what `make up` runs); returns the site and whether it created the cluster.
    Under CI a cluster left from before (e.g. brought back by a dockerd restart, its containers'
    restart counts no longer zero) is deleted first: the tests judge a site deployed from nothing."""
    existed = ClusterInfo.load(CLUSTER) is not None
    if existed and os.environ.get("CI"):
        proc = edgeai("cluster", "down", "--env", ENV, "--site", SITE, timeout=300)
        assert proc.returncode == 0, f"edgeai cluster down failed:\n{proc.stdout}\n{proc.stderr}"
        existed = False
    proc = edgeai("up", "--env", ENV, "--site", SITE, "--provider", "kind", timeout=UP_TIMEOUT)
    assert proc.returncode == 0, f"edgeai up failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr[-6000:]}"
    info = ClusterInfo.load(CLUSTER)
    assert info is not None and info.provider == "kind", f"{CLUSTER} is not a kind cluster: {info}"
    return KindSite(info, proc.stdout + proc.stderr[-3000:]), not existed

