"""charts/logging: the log agent's Fluent Bit configuration as sites render it.

Fluent Bit's engine cannot be had here: Debian bookworm has no `fluent-bit` package (nor
td-agent-bit/filebeat), PyPI and npm ship no Fluent Bit binary, and the Go proxy refuses the
Fluent Bit schema validator module (github.com/calyptia/go-fluentbit-config/v2). So when a
`fluent-bit` binary is on PATH the rendered config goes through `fluent-bit --dry-run`; otherwise
that test is skipped with this reason (also under CI: scripts/install-engines.sh cannot install it).

Checked instead, on the rendered ConfigMap and DaemonSet of a 3-node site (local Elasticsearch)
and a one-node site (cloud Elasticsearch over TLS): the file parses as Fluent Bit's classic format
(sections, indented `key value` pairs, no duplicate keys); every `${VAR}` it uses is in the
container's env; every path it writes is on a writable mount and every path it reads on a mount;
the tag the tail input gives records is the one the kubernetes filter strips; the HTTP server port
is the container port the probes and the scrape annotations use; the output is the Elasticsearch
the composition chose for the site. Elasticsearch itself is not started (no package here either)."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from edgeai.catalog import service_host
from tests.realengines import engines
from tests.realengines.engines import PROD_3_NODES

SITES = [PROD_3_NODES, ("prod", "fra-store-002")]  # 3 nodes with local ES; 1 node, 16Gi: ships to the cloud


def parse_classic(text: str) -> list[tuple[str, dict[str, str]]]:
    """Fluent Bit's classic format: `[SECTION]` headers, indented `Key value` entries, `#` comments.
    Keys are case-insensitive for Fluent Bit: they are lower-cased here."""
    sections: list[tuple[str, dict[str, str]]] = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if m := re.fullmatch(r"\[([A-Z_]+)\]", line.strip()):
            assert not line.startswith(" "), f"line {number}: a section header is not indented"
            sections.append((m.group(1), {}))
            continue
        assert sections, f"line {number}: entry before any section"
        assert line.startswith("    "), f"line {number}: entries are indented by 4 spaces: {line!r}"
        key, _, value = line.strip().partition(" ")
        key = key.lower()
        assert value.strip(), f"line {number}: {key} has no value"
        assert key not in sections[-1][1] or key == "add", f"line {number}: {key} set twice"
        sections[-1][1][key] = value.strip()
    return sections


def agent(site: tuple[str, str]) -> tuple[str, dict, dict]:
    objects = engines.rendered_site(*site)["log-agent"]
    (ds,) = engines.find(objects, "DaemonSet")
    (cm,) = engines.find(objects, "ConfigMap")
    return cm["data"]["fluent-bit.conf"], ds, cm


@pytest.mark.parametrize("site", SITES, ids=lambda s: "/".join(s))
def test_rendered_fluent_bit_config_is_consistent_with_its_pod(site) -> None:
    text, ds, _ = agent(site)
    sections = parse_classic(text)
    kinds = [(kind, s.get("name")) for kind, s in sections]
    assert kinds == [("SERVICE", None), ("INPUT", "tail"), ("FILTER", "kubernetes"), ("FILTER", "modify"),
                     ("OUTPUT", "es")]
    service, tail, kube, _, es = (s for _, s in sections)
    spec = ds["spec"]["template"]["spec"]
    (c,) = spec["containers"]
    assert c["args"] == ["-c", "/fluent-bit/etc/edgeai/fluent-bit.conf"]

    # Every ${VAR} comes from the container's env.
    env = engines.env_values(c)
    assert set(re.findall(r"\$\{(\w+)\}", text)) <= set(env)

    # Paths: writes on a writable mount, reads on a mount.
    mounts = {m["mountPath"]: not m.get("readOnly", False) for m in c["volumeMounts"]}

    def mount_of(path: str) -> tuple[str, bool]:
        best = max((m for m in mounts if path.startswith(m.rstrip("/") + "/")), key=len, default=None)
        assert best, f"{path} is on no mount"
        return best, mounts[best]

    for written in (tail["db"], service["storage.path"]):
        assert mount_of(written)[1], f"{written} is written but its mount is read-only"
    assert mount_of(tail["path"])[0] == "/var/log/containers"
    if site == PROD_3_NODES:
        assert spec["automountServiceAccountToken"] is True
        assert kube["kube_token_file"].startswith("/var/run/secrets/kubernetes.io/serviceaccount/")

    # tail tags records kube.<path with / as .>; the kubernetes filter must strip exactly that prefix.
    assert tail["tag"] == "kube.*" and kube["match"] == "kube.*" and es["match"] == "kube.*"
    directory = tail["path"].rsplit("/", 1)[0]
    assert kube["kube_tag_prefix"] == "kube" + directory.replace("/", ".") + "."

    # HTTP server: the container port, the probes and the scrape annotations agree.
    port = int(service["http_port"])
    assert service["http_server"] == "On"
    named = {p["name"]: p["containerPort"] for p in c["ports"]}
    assert named[c["readinessProbe"]["httpGet"]["port"]] == port
    annotations = ds["spec"]["template"]["metadata"]["annotations"]
    assert int(annotations["prometheus.io/port"]) == port

    # The Elasticsearch the composition picked: the site's own when it is big enough, else the cloud's.
    if site == PROD_3_NODES:
        assert (es["host"], es["port"], es["tls"]) == (service_host("logging", "logging-elasticsearch"), "9200", "Off")
    else:
        assert (es["host"], es["port"], es["tls"], es["tls.verify"]) == (
            "logs.prod.cloud.example.com", "9200", "On", "On")


@pytest.mark.skipif(shutil.which("fluent-bit") is None,
                    reason="Fluent Bit is not installable here (no Debian bookworm package, no PyPI/npm binary); "
                           "its config is checked structurally instead")
@pytest.mark.parametrize("site", SITES, ids=lambda s: "/".join(s))
def test_fluent_bit_dry_run_accepts_the_rendered_config(site, tmp_path) -> None:
    text, _, _ = agent(site)
    config = tmp_path / "fluent-bit.conf"
    config.write_text(engines.adapt(text, {"/var/lib/edgeai-log-agent": str(tmp_path / "state")}))
    proc = subprocess.run(["fluent-bit", "--dry-run", "-c", str(config)], capture_output=True, text=True,
                          env={"ES_USERNAME": "u", "ES_PASSWORD": "p", "PATH": "/usr/bin:/bin"}, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
