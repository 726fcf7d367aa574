"""Helpers of tests/e2e/test_realtime.py: a webhook receiver run inside the kind site (the receivers
the local environment declares for Alertmanager), and a producer that streams sensor events from the
CEP's pod with device timestamps taken as each event is sent."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from typing import Any

from tests.e2e.kindsite import BOOTSTRAP, KAFKA_TOOL, KindSite

# environments/local/environment.yaml: components.monitoring.alertmanager.receivers and
# networkPolicy.webhookNamespaces point here.
RECEIVER_NS, RECEIVER_NAME, RECEIVER_PORT = "edgeai-alert-receiver", "alert-receiver", 8080

# One JSON line per alert Alertmanager delivers: the receiver (URL path), the arrival time in epoch
# ms (the pod's clock is the node's, which is the host's), and the alert. Read back with kubectl logs.
RECEIVER_SCRIPT = """
import json, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# One line per alert, whole: print() from two handler threads interleaves (the text and its newline
# are two writes), which glued two alerts into one line.
out = threading.Lock()

class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        received = int(time.time() * 1000)
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"{}")
        for alert in body.get("alerts", []):
            line = json.dumps({"path": self.path, "received_ms": received, "alert": alert}) + "\\n"
            with out:
                sys.stdout.write(line)
                sys.stdout.flush()
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass

ThreadingHTTPServer(("0.0.0.0", PORT), Handler).serve_forever()
""".replace("PORT", str(RECEIVER_PORT))


def receiver_objects(image: str) -> list[dict[str, Any]]:
    labels = {"app": RECEIVER_NAME}
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": RECEIVER_NS}},
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": RECEIVER_NAME, "namespace": RECEIVER_NS,
                                                         "labels": labels},
         "spec": {"restartPolicy": "Never", "automountServiceAccountToken": False,
                  "securityContext": {"runAsNonRoot": True, "runAsUser": 65534,
                                      "seccompProfile": {"type": "RuntimeDefault"}},
                  "containers": [{"name": "receiver", "image": image,
                                  "command": ["python3", "-u", "-c", RECEIVER_SCRIPT],
                                  "ports": [{"containerPort": RECEIVER_PORT}],
                                  "resources": {"requests": {"cpu": "10m", "memory": "32Mi"},
                                                "limits": {"cpu": "200m", "memory": "128Mi"}},
                                  "securityContext": {"allowPrivilegeEscalation": False,
                                                      "readOnlyRootFilesystem": True,
                                                      "capabilities": {"drop": ["ALL"]}}}]}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": RECEIVER_NAME, "namespace": RECEIVER_NS},
         "spec": {"selector": labels, "ports": [{"port": RECEIVER_PORT, "targetPort": RECEIVER_PORT}]}},
    ]


def python_image(site: KindSite) -> str:
    """The MLServer image the site already runs (it has python3): nothing new is pulled."""
    images = [c["image"] for p in site.pods("edgeai-models") for c in p["spec"]["containers"]
              if "mlserver" in c["image"]]
    assert images, "no MLServer container on the site"
    return images[0]


def start_receiver(site: KindSite) -> None:
    site.kubectl.apply(receiver_objects(python_image(site)))
    site.kubectl.run("wait", "-n", RECEIVER_NS, "--for=condition=Ready", f"pod/{RECEIVER_NAME}", "--timeout=180s",
                     timeout=200)


def stop_receiver(site: KindSite) -> None:
    site.kubectl.run("delete", "namespace", RECEIVER_NS, "--wait=false", check=False)


def deliveries(site: KindSite) -> list[dict[str, Any]]:
    out = site.kubectl.run("logs", "-n", RECEIVER_NS, RECEIVER_NAME, check=False)
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


class StreamingProducer:
    """KafkaTool produce in the CEP's pod, fed line by line: its JVM starts and connects before the
    first timed event, so an event's timestamp is when it leaves for Kafka, as a device's would be."""

    def __init__(self, site: KindSite, topic: str = "sensor-events") -> None:
        cmd = [*site.kubectl.base, "exec", "-i", "-n", "edgeai-siddhi", site.siddhi_pod(), "--",
               *KAFKA_TOOL, "produce", BOOTSTRAP, topic, "acks=all", "linger.ms=0"]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     text=True, bufsize=1)
        self.lines: list[str] = []
        self._flushed = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self._flushed:
                self.lines.append(line.strip())
                self._flushed.notify_all()

    def send(self, key: str, event: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(f"{key}\t{json.dumps(event)}\n")

    def flush(self, timeout: float = 60) -> None:
        """Send what is buffered and wait for the producer's flush (every record acknowledged)."""
        assert self.proc.stdin is not None
        before = sum(1 for line in self.lines if line.startswith("flushed"))
        self.proc.stdin.write("flush\n")
        self.proc.stdin.flush()
        with self._flushed:
            ok = self._flushed.wait_for(lambda: sum(1 for line in self.lines if line.startswith("flushed")) > before,
                                        timeout)
        assert ok, f"producer did not flush: {self.lines[-5:]}"

    def close(self) -> list[str]:
        if self.proc.stdin:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        time.sleep(0.2)
        errors = [line for line in self.lines if line.startswith("err ")]
        return errors
