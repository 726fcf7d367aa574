"""The local site's Kafka external listener: what the site stack takes from edgeai:kafkaExternalTlsCert/Key
and edgeai:kafkaExternalUsers on a real site, made here for `edgeai up`.

- A server certificate signed by the cluster's own CA (the one edgeai.gateway_tls makes, so a device on
  the developer's host trusts one ca.crt for the gateway and Kafka), naming 127.0.0.1 and localhost (kind
  maps the node ports there), the site's advertised hosts and the in-cluster names of the brokers'
  Services. Kept in <state>/kafka-external/ and made again only when the names it must carry change.
- A random password per SCRAM user the site file declares (components.kafka.external.users), kept in
  <state>/kafka-external/users.json (0600): the Secret kafka-external-users holds "<name> <password>"
  lines, never printed.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterable
from pathlib import Path

from edgeai import catalog, gateway_tls

DIR = "kafka-external"
CONFIG_KEYS = ("kafkaExternalTlsCert", "kafkaExternalTlsKey", "kafkaExternalUsers")


def _service_names(brokers: int) -> list[str]:
    ns = catalog.COMPONENTS["kafka"].namespace
    return [n for i in range(brokers)
            for n in (f"kafka-external-{i}.{ns}.svc", f"kafka-external-{i}.{ns}.svc.cluster.local")]


def _write_private(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    tmp.replace(path)


def ensure_tls(state_dir: Path, hosts: Iterable[str] = (), brokers: int = 1, subdir: str = DIR) -> dict[str, str]:
    """{kafkaExternalTlsCert, kafkaExternalTlsKey}: a server certificate (ECDSA P-256, key in PKCS#8 as
    Kafka's PEM key store wants) from the cluster's CA for 127.0.0.1, localhost and `hosts`, kept in
    <state>/<subdir> (another Kafka of the cluster, e.g. edgeai.localcloud's, keeps its own)."""
    gateway_tls.ensure(state_dir)                      # the cluster's CA (and the gateway's certificate)
    ca_dir = state_dir / gateway_tls.DIR
    d = state_dir / subdir
    d.mkdir(parents=True, exist_ok=True, mode=0o700)
    names = sorted({"127.0.0.1", "localhost", *hosts, *_service_names(brokers)})
    cert, key, made_for = d / "tls.crt", d / "tls.key", d / "names.json"
    if not (cert.is_file() and key.is_file() and made_for.is_file() and json.loads(made_for.read_text()) == names):
        sans = ",".join(f"IP:{n}" if n.replace(".", "").isdigit() or ":" in n else f"DNS:{n}" for n in names)
        gateway_tls._openssl(
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", str(key), "-out", str(cert), "-CA", str(ca_dir / "ca.crt"), "-CAkey", str(ca_dir / "ca.key"),
            "-days", str(gateway_tls.DAYS), "-subj", "/CN=kafka-external",
            "-addext", "basicConstraints=critical,CA:FALSE", "-addext", "keyUsage=critical,digitalSignature",
            "-addext", "extendedKeyUsage=serverAuth", "-addext", f"subjectAltName={sans}")
        key.chmod(0o600)
        made_for.write_text(json.dumps(names))
    return {"kafkaExternalTlsCert": cert.read_text(), "kafkaExternalTlsKey": key.read_text()}


def users_file(state_dir: Path) -> Path:
    return state_dir / DIR / "users.json"


def ensure_users(state_dir: Path, names: Iterable[str]) -> dict[str, str]:
    """{kafkaExternalUsers}: "<name> <password>" lines for `names`, each password random and kept."""
    f = users_file(state_dir)
    f.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    users: dict[str, str] = json.loads(f.read_text()) if f.is_file() else {}
    missing = [n for n in names if n not in users]
    if missing or not f.is_file():            # a site without users still gets the (empty) file
        users.update({n: secrets.token_urlsafe(24) for n in missing})
        _write_private(f, json.dumps(users, indent=1, sort_keys=True))
    f.chmod(0o600)
    return {"kafkaExternalUsers": "".join(f"{n} {users[n]}\n" for n in names)}


def ensure(state_dir: Path, kafka_values: dict | None) -> dict[str, str]:
    """The three secret values of the local site, from the kafka release's values (none declared: a
    certificate for 127.0.0.1 and no users, so the Secrets exist on every site as the stack makes them)."""
    ext = (kafka_values or {}).get("external") or {}
    brokers = int((kafka_values or {}).get("brokers") or 1)
    names = [u["name"] for u in ext.get("users") or []] if ext.get("enabled") else []
    return {**ensure_tls(state_dir, ext.get("advertisedHosts") or (), brokers), **ensure_users(state_dir, names)}
