"""The local site's gateway certificate: what the site stack takes from edgeai:gatewayTlsCert/Key on a real
site, made here for `edgeai up` with the openssl CLI (as edgeai.cluster.pki makes the cluster's own).

A CA of its own per cluster, kept in <state>/gateway-tls/ (ca.crt is what a caller on the developer's host
trusts: `curl --cacert`, grpc's root certificates), and a server certificate for the names a caller uses:
127.0.0.1 and localhost (kind maps the node ports there) and the in-cluster names of the gateway.
Created once and kept, so `edgeai up` again changes nothing; the keys never leave that directory and the
site's Secret.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

DIR = "gateway-tls"
DAYS = 365
SERVER_NAMES = ("localhost", "gateway-external.edgeai-gateway.svc", "gateway-external.edgeai-gateway.svc.cluster.local",
                "gateway.edgeai-gateway.svc", "gateway.edgeai-gateway.svc.cluster.local")
# The Pulumi config keys the site stack reads them from (edgeai.stacks.SITE_CONFIG).
CONFIG_KEYS = ("gatewayTlsCert", "gatewayTlsKey")


def _openssl(*args: str) -> None:
    proc = subprocess.run(["openssl", *args], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args[:2])} failed: {proc.stderr.strip()}")


def ca_file(state_dir: Path) -> Path:
    return state_dir / DIR / "ca.crt"


def ensure(state_dir: Path) -> dict[str, str]:
    """{gatewayTlsCert, gatewayTlsKey} of the local site, made on first use (ECDSA P-256)."""
    d = state_dir / DIR
    cert, key = d / "tls.crt", d / "tls.key"
    if not (cert.is_file() and key.is_file() and ca_file(state_dir).is_file()):
        d.mkdir(parents=True, exist_ok=True, mode=0o700)
        ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        _openssl("req", "-x509", *ec, "-keyout", str(d / "ca.key"), "-out", str(d / "ca.crt"), "-days",
                 str(DAYS * 10), "-subj", "/CN=edgeai-local-gateway-ca",
                 "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        sans = ",".join(["IP:127.0.0.1", *(f"DNS:{n}" for n in SERVER_NAMES)])
        _openssl("req", "-x509", *ec, "-keyout", str(key), "-out", str(cert), "-CA", str(d / "ca.crt"),
                 "-CAkey", str(d / "ca.key"), "-days", str(DAYS), "-subj", "/CN=gateway",
                 "-addext", "basicConstraints=critical,CA:FALSE", "-addext", "keyUsage=critical,digitalSignature",
                 "-addext", "extendedKeyUsage=serverAuth", "-addext", f"subjectAltName={sans}")
        for f in d.glob("*.key"):
            f.chmod(0o600)
    return {"gatewayTlsCert": cert.read_text(), "gatewayTlsKey": key.read_text()}
