"""How the host reaches a local site: the NodePort Services the site's files declare.

A kind cluster maps each of them to the same port on 127.0.0.1 (edgeai.cluster.kind), so what a
site exposes on its nodes is what the developer's host can call; `edgeai up` prints the URLs and
one `curl` that gets a real prediction through the gateway. The gateway is exposed over TLS only
(Service gateway-external), with a certificate of the cluster's own CA (edgeai.gateway_tls).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgeai import gateway_tls

HOST = "127.0.0.1"


@dataclass(frozen=True)
class Exposed:
    namespace: str
    service: str
    port: str        # the Service port's name (http, grpc, ...)
    node_port: int

    @property
    def url(self) -> str:
        scheme = {"grpc": "", "grpcs": "", "https": "https://", "sasl-ssl": "", "mqtts": "mqtts://"}.get(self.port, "http://")
        return f"{scheme}{HOST}:{self.node_port}"


def node_ports(objects: list[dict[str, Any]]) -> list[Exposed]:
    """Every fixed node port of the site's NodePort/LoadBalancer Services, in port order."""
    out = []
    for obj in objects:
        spec = obj.get("spec") or {}
        if obj.get("kind") != "Service" or spec.get("type") not in ("NodePort", "LoadBalancer"):
            continue
        for port in spec.get("ports", []):
            if port.get("nodePort"):
                out.append(Exposed(obj["metadata"].get("namespace", ""), obj["metadata"]["name"],
                                   port.get("name", str(port["port"])), int(port["nodePort"])))
    return sorted(out, key=lambda e: e.node_port)


def summary(exposed: list[Exposed], model: str | None, key_file: str) -> str:
    """What to print after a deploy: each exposed endpoint, and a prediction with curl."""
    if not exposed:
        return "nothing is exposed on the nodes (no NodePort Service); use kubectl port-forward\n"
    lines = ["reach the site from this host:"]
    lines += [f"  {e.namespace}/{e.service} ({e.port}): {e.url}" for e in exposed]
    gateway = next((e for e in exposed if e.service == "gateway-external" and e.port == "https"), None)
    if gateway and model:
        # The key is read from the cluster's state file at run time, never printed; the first key
        # of gatewayApiKeys ("<key> [<caller> [<models>]]" lines) may call every model.
        ca = gateway_tls.ca_file(Path(key_file).parent)
        lines += ["a prediction through the gateway (V2 inference protocol, TLS):",
                  "  KEY=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))"
                  f"[\"gatewayApiKeys\"].split()[0])' {key_file})",
                  f"  curl -s --cacert {ca} -H \"Authorization: Bearer $KEY\" -H 'Content-Type: application/json' "
                  f"{gateway.url}/v2/models/{model}/infer -d "
                  "'{\"inputs\": [{\"name\": \"input-0\", \"shape\": [1, 5], \"datatype\": \"FP64\", "
                  "\"data\": [20.0, 18.0, 250.0, 40.0, 240.0]}]}'"]
    return "\n".join(lines) + "\n"
