"""The local cluster's own PKI, made with the openssl CLI: what kubeadm would lay out, in small.

- a cluster CA that signs the API server's serving certificate and every client certificate;
  the client's identity is its certificate's CN (user) and O (groups), as RBAC sees them;
- a separate etcd CA (as kubeadm does): etcd trusts only the API server's etcd client certificate;
- a front-proxy CA and client certificate: the API server's aggregation layer (extension API
  servers such as metrics-server trust requests proxied with it), as kubeadm configures it;
- the service-account key pair: the API server signs tokens with the private key and verifies them
  with the public one; the controller manager signs legacy token Secrets with the private key.

ECDSA P-256 keys: accepted by every component and an order of magnitude faster to generate than
RSA, which matters for the cold start of `edgeai cluster up`.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

DAYS = 365
API_SERVER_NAMES = ("localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
                    "kubernetes.default.svc.cluster.local")


@dataclass(frozen=True)
class Identity:
    """A client certificate: CN is the user name, O the groups RBAC binds to."""
    file: str
    user: str
    groups: tuple[str, ...] = ()


ADMIN = Identity("admin", "edgeai-admin", ("system:masters",))
CONTROLLER_MANAGER = Identity("controller-manager", "system:kube-controller-manager")
SCHEDULER = Identity("scheduler", "system:kube-scheduler")
# kwok plays the kubelet of every simulated node with one identity, which the Node authorizer
# (one node per credential) cannot express: it gets a ClusterRole of its own (cluster/bootstrap.yaml).
KWOK = Identity("kwok", "edgeai:kwok")
PROVISIONER = Identity("provisioner", "edgeai:local-provisioner")
ETCD_CLIENT = Identity("apiserver-etcd-client", "kube-apiserver-etcd-client")
FRONT_PROXY_CLIENT = Identity("front-proxy-client", "front-proxy-client")
CLIENTS = (ADMIN, CONTROLLER_MANAGER, SCHEDULER, KWOK, PROVISIONER)


def _openssl(*args: str) -> None:
    proc = subprocess.run(["openssl", *args], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args[:2])} failed: {proc.stderr.strip()}")


def _key_opts() -> list[str]:
    return ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]


def _subject(cn: str, groups: tuple[str, ...] = ()) -> str:
    return "".join(f"/O={g}" for g in groups) + f"/CN={cn}"


class Pki:
    def __init__(self, directory: Path):
        self.dir = directory

    def path(self, name: str) -> Path:
        return self.dir / name

    @property
    def ca(self) -> Path:
        return self.path("ca.crt")

    def cert(self, name: str) -> Path:
        return self.path(f"{name}.crt")

    def key(self, name: str) -> Path:
        return self.path(f"{name}.key")

    @property
    def complete(self) -> bool:
        return self.path(".complete").is_file()

    def create(self) -> None:
        """Every key and certificate; idempotent (an existing complete PKI is kept)."""
        if self.complete:
            return
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._ca("ca", "edgeai-local-ca")
        self._ca("etcd-ca", "edgeai-local-etcd-ca")
        self._ca("front-proxy-ca", "edgeai-local-front-proxy-ca")
        self._leaf(FRONT_PROXY_CLIENT.file, FRONT_PROXY_CLIENT.user, "front-proxy-ca")
        self._leaf("apiserver", "kube-apiserver", "ca", server=True,
                   sans=["IP:127.0.0.1", "IP:10.96.0.1", *(f"DNS:{n}" for n in API_SERVER_NAMES)])
        self._leaf("etcd-server", "etcd", "etcd-ca", server=True, sans=["IP:127.0.0.1", "DNS:localhost"])
        self._leaf(ETCD_CLIENT.file, ETCD_CLIENT.user, "etcd-ca")
        for client in CLIENTS:
            self._leaf(client.file, client.user, "ca", groups=client.groups)
        _openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                 "-out", str(self.path("sa.key")))
        _openssl("pkey", "-in", str(self.path("sa.key")), "-pubout", "-out", str(self.path("sa.pub")))
        for f in self.dir.glob("*.key"):
            f.chmod(0o600)
        self.path(".complete").touch()

    def _ca(self, name: str, cn: str) -> None:
        _openssl("req", "-x509", *_key_opts(), "-keyout", str(self.key(name)), "-out", str(self.cert(name)),
                 "-days", str(DAYS * 10), "-subj", _subject(cn),
                 "-addext", "basicConstraints=critical,CA:TRUE",
                 "-addext", "keyUsage=critical,keyCertSign,cRLSign,digitalSignature")

    def _leaf(self, name: str, cn: str, ca: str, *, server: bool = False, sans: list[str] | None = None,
              groups: tuple[str, ...] = ()) -> None:
        usage = "serverAuth" if server else "clientAuth"
        extensions = ["-addext", "basicConstraints=critical,CA:FALSE",
                      "-addext", "keyUsage=critical,digitalSignature",
                      "-addext", f"extendedKeyUsage={usage}"]
        if sans:
            extensions += ["-addext", f"subjectAltName={','.join(sans)}"]
        # OpenSSL 3: `req -x509 -CA` signs the new request with the CA in one call.
        _openssl("req", "-x509", *_key_opts(), "-keyout", str(self.key(name)), "-out", str(self.cert(name)),
                 "-CA", str(self.cert(ca)), "-CAkey", str(self.key(ca)), "-days", str(DAYS),
                 "-subj", _subject(cn, groups), *extensions)
