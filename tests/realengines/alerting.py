"""The monitoring chart's Alertmanager as a local process, and a webhook receiver that records what
Alertmanager sends it (one list of alerts per receiver path, with the time each arrived)."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.realengines import engines


@dataclass
class Delivery:
    path: str                    # /maintenance, /line-control: the receiver the URL belongs to
    received_ms: int
    body: dict[str, Any]


@dataclass
class WebhookReceiver:
    """HTTP server on 127.0.0.1 standing in for the receivers' webhooks: answers 200, records."""

    deliveries: list[Delivery] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    def start(self) -> WebhookReceiver:
        deliveries = self.deliveries

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length) or b"{}")
                deliveries.append(Delivery(self.path, int(time.time() * 1000), body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def alerts(self, path: str) -> list[tuple[int, dict[str, Any]]]:
        """(arrival ms, alert) of every alert delivered to one receiver path."""
        return [(d.received_ms, a) for d in list(self.deliveries) if d.path == path for a in d.body["alerts"]]

    def close(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


@dataclass
class Alertmanager:
    """The monitoring StatefulSet's alertmanager container as a local process: the rendered
    alertmanager.yml and the rendered args, with the webhook URLs, the storage path and the listen
    address adapted to this machine."""

    objects: list[dict[str, Any]]
    root: Path
    procs: engines.Processes
    webhook_urls: dict[str, str]         # rendered URL -> local URL
    port: int = field(default_factory=engines.free_port)
    proc: engines.Proc | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60) -> Alertmanager:
        self.root.mkdir(parents=True, exist_ok=True)
        config = engines.config_map(self.objects, "monitoring-alertmanager")["alertmanager.yml"]
        (self.root / "alertmanager.yml").write_text(engines.adapt(config, self.webhook_urls, "alertmanager.yml"))
        container = engines.container(self.objects, "StatefulSet", "monitoring-alertmanager", "alertmanager")
        local = {"--config.file=/etc/alertmanager/alertmanager.yml": f"--config.file={self.root}/alertmanager.yml",
                 "--storage.path=/alertmanager": f"--storage.path={self.root / 'data'}",
                 "--web.listen-address=:9093": f"--web.listen-address=127.0.0.1:{self.port}"}
        assert set(local) <= set(container["args"]), container["args"]
        args = [local.get(a, a) for a in container["args"]]
        assert "--cluster.listen-address=" in args      # one replica, no gossip
        bin_dir = engines.alertmanager_bin()
        check = subprocess.run([str(bin_dir / "amtool"), "check-config", str(self.root / "alertmanager.yml")],
                                       capture_output=True, text=True, check=False, timeout=60)
        assert check.returncode == 0, check.stdout + check.stderr
        self.proc = self.procs.start(engines.Proc("alertmanager", [str(bin_dir / "alertmanager"), *args],
                                                  self.root / "alertmanager.log"))
        self.proc.wait_for(lambda: engines.http_status(f"{self.url}/-/ready") == 200, "ready", timeout)
        return self

    def post(self, alerts: list[dict[str, Any]]) -> None:
        """POST /api/v2/alerts, as Prometheus and the CEP's http sink do."""
        status, body = engines.http(f"{self.url}/api/v2/alerts", alerts)
        assert status == 200, body
