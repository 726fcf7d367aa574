"""edgeai.kafka_external: the local site's Kafka external listener certificate (from the cluster CA that
edgeai.gateway_tls makes) and its SCRAM users' passwords, as `edgeai up` writes them into the Secrets."""

from __future__ import annotations

import json
import stat
import subprocess

from edgeai import gateway_tls, kafka_external

VALUES = {"brokers": 1, "external": {"enabled": True, "advertisedHosts": ["127.0.0.1", "kafka.shop.example"],
                                     "users": [{"name": "device-sim"}, {"name": "device-throttled"}]}}


def _openssl(*args: str, stdin: str | None = None) -> str:
    return subprocess.run(["openssl", *args], input=stdin, capture_output=True, text=True, check=True).stdout


def test_certificate_from_the_cluster_ca_names_the_advertised_hosts(tmp_path) -> None:
    values = kafka_external.ensure(tmp_path, VALUES)
    cert, key = values["kafkaExternalTlsCert"], values["kafkaExternalTlsKey"]
    assert key.startswith("-----BEGIN PRIVATE KEY-----")          # PKCS#8, as Kafka's PEM key store wants
    (tmp_path / "c.pem").write_text(cert)
    verified = subprocess.run(["openssl", "verify", "-CAfile", str(gateway_tls.ca_file(tmp_path)),
                               str(tmp_path / "c.pem")], capture_output=True, text=True, check=False)
    assert verified.returncode == 0, verified.stderr
    text = _openssl("x509", "-noout", "-text", stdin=cert)
    for name in ("IP Address:127.0.0.1", "DNS:localhost", "DNS:kafka.shop.example",
                 "DNS:kafka-external-0.edgeai-kafka.svc"):
        assert name in text, name
    assert "TLS Web Server Authentication" in text
    # Kept: a second run changes nothing; new advertised hosts give a new certificate.
    assert kafka_external.ensure(tmp_path, VALUES) == values
    other = {**VALUES, "external": {**VALUES["external"], "advertisedHosts": ["10.1.2.3"]}}
    again = kafka_external.ensure(tmp_path, other)
    assert again["kafkaExternalTlsCert"] != cert
    assert "IP Address:10.1.2.3" in _openssl("x509", "-noout", "-text", stdin=again["kafkaExternalTlsCert"])


def test_users_get_a_kept_random_password_in_a_private_file(tmp_path) -> None:
    lines = kafka_external.ensure(tmp_path, VALUES)["kafkaExternalUsers"].splitlines()
    users = dict(line.split(" ") for line in lines)
    assert list(users) == ["device-sim", "device-throttled"]
    assert all(len(pw) >= 16 for pw in users.values()) and len(set(users.values())) == 2
    f = kafka_external.users_file(tmp_path)
    assert stat.S_IMODE(f.stat().st_mode) == 0o600 and json.loads(f.read_text()) == users
    assert kafka_external.ensure(tmp_path, VALUES)["kafkaExternalUsers"].splitlines() == lines
    # Off: the Secret still exists (the stack creates it on every site), with no users.
    assert kafka_external.ensure(tmp_path, {"brokers": 1})["kafkaExternalUsers"] == ""


def test_a_site_without_the_listener_gets_a_certificate_and_no_users(tmp_path) -> None:
    """What every site without `external` gets (staging's sites): the Secrets' values, no users, and the
    state written (a first deploy found no users file and failed)."""
    values = kafka_external.ensure(tmp_path, None)
    assert values["kafkaExternalUsers"] == "" and "BEGIN CERTIFICATE" in values["kafkaExternalTlsCert"]
    assert kafka_external.users_file(tmp_path).stat().st_mode & 0o777 == 0o600
