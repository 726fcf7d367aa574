"""Shared helpers of the real-engine tests: where the engines are, how each one is started on
127.0.0.1 with the configuration a chart renders for a site, and how to talk to it.

Every start function takes the objects `edgeai.render.render_site` rendered and adapts ONLY what
cannot hold on one machine: hostnames (cluster DNS names -> 127.0.0.1/127.0.0.x), ports (fixed
container ports -> free loopback ports) and paths (volume mounts -> a temporary directory). Each
adaptation is an explicit (rendered text -> local text) pair and fails loudly when the rendered
text is not there, so a chart change cannot make an adaptation silently do nothing.

The engines come from scripts/install-engines.sh (pinned in scripts/tool-versions.env); `require()` fails under CI and
skips locally when one is missing.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from edgeai import paths, tools
from edgeai.catalog import service_host
from edgeai.ports import free_port  # noqa: F401 (the engine tests take it from here)

# The sites the tests take their rendered configuration from.
LOCAL = ("local", "local")                 # the one-node site `edgeai up` deploys
PROD_3_NODES = ("prod", "ber-factory-01")  # a 3-node prod site: brokers 3, RF 3, min ISR 2; a 10% canary; a GPU model

# Stand for the Secrets the site stack creates (never rendered).
REDIS_PASSWORD = "r3dis-from-the-secret"   # redis-auth/password
API_KEY = "site-key-0123456789abcdef"      # gateway-api-keys/keys
CEP_API_KEY = "cep-key-0123456789abcdef"   # cep-api-key/key = gateway-api-keys/internal-keys

INSTALL = "scripts/install-engines.sh"
INSTALL_SCRIPT = paths.ROOT / INSTALL
HARNESS_SOURCES = paths.ROOT / "tools" / "engines" / "harness" / "src"
ENGINES = paths.CACHE / "engines"


# --- pins and installed engines -----------------------------------------------------------------

@functools.cache
def pins() -> dict[str, str]:
    """The engines' versions, pinned with every other tool in scripts/tool-versions.env."""
    return tools.pinned_versions()


def kafka_libs() -> Path:
    return ENGINES / f"kafka-{pins()['KAFKA_VERSION']}" / "libs"


def siddhi_libs() -> Path:
    return ENGINES / f"siddhi-{pins()['SIDDHI_VERSION']}" / "libs"


def mlserver_venv() -> Path:
    return ENGINES / f"mlserver-{pins()['MLSERVER_VERSION']}" / "venv"


def promtool_path() -> Path:
    return paths.CACHE / "tools" / "promtool" / pins()["PROMETHEUS_VERSION"] / "bin" / "promtool"


def alertmanager_bin() -> Path:
    """alertmanager and amtool, built from the Go module of the chart's Alertmanager."""
    return paths.CACHE / "tools" / "alertmanager" / pins()["ALERTMANAGER_VERSION"] / "bin"


def _installed(d: Path) -> bool:
    return (d.parent / ".complete").is_file() and d.is_dir()


ENGINE_CHECKS: dict[str, Callable[[], str | None]] = {
    # name -> a function returning None when present, else what is missing
    "java": lambda: None if shutil.which("java") and shutil.which("javac") else "java/javac (JDK 17+)",
    "kafka": lambda: None if _installed(kafka_libs()) else f"Apache Kafka {pins()['KAFKA_VERSION']} ({kafka_libs()})",
    "siddhi": lambda: None if _installed(siddhi_libs()) else f"Siddhi {pins()['SIDDHI_VERSION']} ({siddhi_libs()})",
    "mlserver": lambda: None if (mlserver_venv().parent / ".complete").is_file()
    else f"MLServer {pins()['MLSERVER_VERSION']} ({mlserver_venv()})",
    "promtool": lambda: None if promtool_path().is_file() else f"promtool {pins()['PROMETHEUS_VERSION']}",
    "alertmanager": lambda: None if (alertmanager_bin() / "alertmanager").is_file()
    else f"alertmanager {pins()['ALERTMANAGER_VERSION']}",
    "redis": lambda: None if shutil.which("redis-server") and shutil.which("redis-cli") else "redis-server",
    "nginx": lambda: None if shutil.which("nginx") else "nginx",
    "curl": lambda: None if shutil.which("curl") else "curl",
}


def require(*names: str) -> None:
    """Fail (CI=true) or skip (locally) naming the install command when an engine is missing."""
    missing = [what for name in names if (what := ENGINE_CHECKS[name]()) is not None]
    if not missing:
        return
    message = f"real engine(s) not installed: {', '.join(missing)}; install with: bash {INSTALL}"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


# --- rendered objects ---------------------------------------------------------------------------

@functools.cache
def rendered_site(env_name: str, site_name: str) -> dict[str, list[dict[str, Any]]]:
    """release name -> objects, as `edgeai.render.render_site` renders them for the site."""
    from edgeai import fleet, render

    (env,) = fleet.load_fleet([env_name])
    return {r.release.name: r.objects for r in render.render_site(env, env.sites[site_name])}


def find(objects: list[dict[str, Any]], kind: str, name: str | None = None) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]


def config_map(objects: list[dict[str, Any]], name: str) -> dict[str, str]:
    (cm,) = find(objects, "ConfigMap", name)
    return cm["data"]


def container(objects: list[dict[str, Any]], kind: str, name: str, container_name: str) -> dict[str, Any]:
    (workload,) = find(objects, kind, name)
    spec = workload["spec"]["template"]["spec"]
    return next(c for c in spec.get("initContainers", []) + spec["containers"] if c["name"] == container_name)


def env_values(c: dict[str, Any]) -> dict[str, Any]:
    """A container's env: literal values, or the valueFrom reference."""
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in c.get("env") or []}


def adapt(text: str, replacements: list[tuple[str, str]] | dict[str, str], what: str = "config") -> str:
    """Apply (rendered -> local) replacements; each rendered text must occur."""
    items = replacements.items() if isinstance(replacements, dict) else replacements
    for old, new in items:
        assert old in text, f"{what}: the rendered text no longer contains {old!r} (adaptation out of date)"
        text = text.replace(old, new)
    return text


# --- processes ----------------------------------------------------------------------------------

def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


@dataclass
class Proc:
    """A server this test session started: output in a log file, stopped (process group) in teardown."""

    name: str
    args: list[str]
    log: Path
    env: dict[str, str] | None = None
    cwd: Path | None = None
    popen: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def start(self) -> Proc:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        out = self.log.open("ab")
        self.popen = subprocess.Popen(self.args, stdout=out, stderr=subprocess.STDOUT, env=self.env,
                                      cwd=self.cwd, start_new_session=True)
        out.close()
        return self

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def output(self, tail: int = 60) -> str:
        lines = self.log.read_text(errors="replace").splitlines() if self.log.exists() else []
        return f"--- {self.name} ({self.log}) ---\n" + "\n".join(lines[-tail:])

    def wait_for(self, check: Callable[[], bool], what: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if check():
                return
            if not self.alive():
                raise AssertionError(f"{self.name} exited ({self.popen.returncode}) before {what}\n{self.output()}")
            time.sleep(0.2)
        raise AssertionError(f"{self.name}: timed out after {timeout}s waiting for {what}\n{self.output()}")

    def wait_for_port(self, port: int, timeout: float = 60) -> None:
        self.wait_for(lambda: port_open(port), f"port {port}", timeout)

    def wait_for_log(self, text: str, timeout: float = 60) -> None:
        self.wait_for(lambda: text in self.log.read_text(errors="replace"), repr(text), timeout)

    def _signal(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, sig)

    def kill(self) -> None:
        """SIGKILL, as a crash or an OOM kill would."""
        if self.alive():
            self._signal(signal.SIGKILL)
            self.popen.wait(timeout=30)

    def stop(self, timeout: float = 30) -> None:
        if self.popen is None:
            return
        if self.alive():
            self._signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self._signal(signal.SIGKILL)
                self.popen.wait(timeout=30)


class Processes:
    """Every Proc started through it is stopped by close(), last started first."""

    def __init__(self) -> None:
        self.procs: list[Proc] = []

    def start(self, proc: Proc) -> Proc:
        self.procs.append(proc)
        return proc.start()

    def close(self, timeout: float = 20) -> None:
        """SIGTERM to every process at once (a quorum's members shut down together), then SIGKILL
        what is still running after `timeout`."""
        for proc in reversed(self.procs):
            if proc.alive():
                proc._signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for proc in reversed(self.procs):
            if proc.popen is None:
                continue
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.popen.wait(timeout=max(0.1, deadline - time.monotonic()))
            proc.stop(timeout=0.1)
        self.procs.clear()

    def logs(self) -> str:
        return "\n".join(p.output(30) for p in self.procs)


# --- Java: the harness (Siddhi runner and Kafka client) -----------------------------------------

@functools.cache
def harness_classes() -> Path:
    """tools/engines/harness compiled with javac against the Siddhi libs, cached by source hash."""
    sources = sorted(HARNESS_SOURCES.rglob("*.java"))
    digest = hashlib.sha256(pins()["SIDDHI_VERSION"].encode())
    for s in sources:
        digest.update(s.name.encode() + s.read_bytes())
    out = ENGINES / "harness" / digest.hexdigest()[:16]
    if not (out / ".complete").is_file():
        tmp = out.with_name(out.name + f".partial-{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        subprocess.run(["javac", "-proc:none", "-nowarn", "-d", str(tmp), "-cp", f"{siddhi_libs()}/*",
                        *map(str, sources)], check=True, capture_output=True, text=True)
        (tmp / ".complete").touch()
        shutil.rmtree(out, ignore_errors=True)
        with contextlib.suppress(OSError):
            tmp.rename(out)
    return out


def harness_classpath() -> str:
    return f"{harness_classes()}:{siddhi_libs()}/*"


def kafka_tool(*args: str, timeout: float = 60) -> list[dict[str, Any]]:
    proc = subprocess.run(["java", "-XX:TieredStopAtLevel=1", "-cp", harness_classpath(),
                           "edgeai.engines.KafkaTool", *args],
                          capture_output=True, text=True, timeout=timeout, check=False)
    assert proc.returncode == 0, f"KafkaTool {args}: {proc.stderr[-3000:]}"
    return [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]


_CLIENTS: set[Any] = set()   # live Producer/Consumer processes, killed at exit if a caller did not close them


@atexit.register
def _kill_clients() -> None:
    for client in list(_CLIENTS):
        with contextlib.suppress(Exception):
            client.close()


class Producer:
    """A long-lived KafkaTool producer: send() lines, acks read back in a thread."""

    def __init__(self, bootstrap: str, topic: str, log: Path, **props: str) -> None:
        self.acked: dict[int, tuple[int, int, float]] = {}   # seq -> (partition, offset, ack time)
        self.errors: list[str] = []
        self.sent_at: dict[int, float] = {}
        self.seq = 0
        self._log = log.open("w")
        self.popen = subprocess.Popen(
            ["java", "-cp", harness_classpath(), "edgeai.engines.KafkaTool", "produce", bootstrap, topic,
             *[f"{k.replace('_', '.')}={v}" for k, v in props.items()]],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log, text=True, bufsize=1,
            start_new_session=True)
        _CLIENTS.add(self)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.popen.stdout is not None
        for line in self.popen.stdout:
            parts = line.split(" ", 3)
            if parts[0] == "ack":
                self.acked[int(parts[1])] = (int(parts[2]), int(parts[3]), time.time())
            elif parts[0] == "err":
                self.errors.append(line.strip())

    def send(self, key: str | None, value: str) -> int:
        assert self.popen.stdin is not None
        n = self.seq
        self.sent_at[n] = time.time()
        self.popen.stdin.write(f"{key or ''}\t{value}\n" if key is not None else f"{value}\n")
        self.seq += 1
        return n

    def flush(self) -> None:
        assert self.popen.stdin is not None
        self.popen.stdin.flush()

    def wait_acked(self, timeout: float = 60) -> None:
        self.flush()
        deadline = time.monotonic() + timeout
        while len(self.acked) + len(self.errors) < self.seq and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not self.errors, self.errors[:5]
        assert len(self.acked) == self.seq, f"{self.seq - len(self.acked)} of {self.seq} records not acknowledged"

    def close(self) -> None:
        with contextlib.suppress(Exception):
            if self.popen.stdin:
                self.popen.stdin.close()
            self.popen.wait(timeout=30)
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait()
        self._log.close()
        _CLIENTS.discard(self)


@dataclass
class Record:
    timestamp_ms: int
    received_ms: int
    partition: int
    offset: int
    key: str | None
    value: str

    def json(self) -> dict[str, Any]:
        return json.loads(self.value)


class Consumer:
    """A long-lived KafkaTool consumer (group "-" reads the whole topic without a group)."""

    def __init__(self, bootstrap: str, topic: str, log: Path, group: str = "-") -> None:
        self.records: list[Record] = []
        self.assigned = threading.Event()
        self._log = log.open("w")
        self.popen = subprocess.Popen(
            ["java", "-cp", harness_classpath(), "edgeai.engines.KafkaTool", "consume", bootstrap, topic, group],
            stdout=subprocess.PIPE, stderr=self._log, text=True, bufsize=1, start_new_session=True)
        _CLIENTS.add(self)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.popen.stdout is not None
        for line in self.popen.stdout:
            if line.startswith("rec "):
                head, _, value = line.rstrip("\n").partition("\t")
                _, ts, received, partition, offset, key = head.split(" ", 5)
                self.records.append(Record(int(ts), int(received), int(partition), int(offset),
                                           None if key == "null" else key, value))
            elif line.startswith(("ready", "assigned")) and not line.startswith("assigned 0"):
                self.assigned.set()

    def wait_for(self, check: Callable[[list[Record]], bool], what: str, timeout: float = 60) -> list[Record]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if check(list(self.records)):
                return list(self.records)
            assert self.popen.poll() is None, f"consumer exited: {what}"
            time.sleep(0.1)
        raise AssertionError(f"timed out after {timeout}s waiting for {what}; have {len(self.records)} records")

    def close(self) -> None:
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait()
        self._log.close()
        _CLIENTS.discard(self)


# --- Kafka --------------------------------------------------------------------------------------

# The image's kafka-run-class.sh runs these classes; the shims call them with the Maven Central jars.
_KAFKA_SHIMS = {
    "kafka-server-start.sh": ("$KAFKA_HEAP_OPTS $KAFKA_JVM_PERFORMANCE_OPTS", "kafka.Kafka"),
    "kafka-storage.sh": ("-Xmx256m $KAFKA_CLI_OPTS", "kafka.tools.StorageTool"),
    "kafka-topics.sh": ("$KAFKA_HEAP_OPTS $KAFKA_CLI_OPTS", "org.apache.kafka.tools.TopicCommand"),
    "kafka-configs.sh": ("$KAFKA_HEAP_OPTS $KAFKA_CLI_OPTS", "kafka.admin.ConfigCommand"),
    "connect-mirror-maker.sh": ("$KAFKA_HEAP_OPTS $KAFKA_JVM_PERFORMANCE_OPTS",
                                "org.apache.kafka.connect.mirror.MirrorMaker"),
}
# The distribution's default JVM flags for the broker (kafka-run-class.sh); the CLIs get a quick-start
# JIT setting (a local speed-up of short-lived JVMs, no behaviour of Kafka's).
_JVM_PERFORMANCE_OPTS = ("-server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 "
                         "-XX:+ExplicitGCInvokesConcurrent -Djava.awt.headless=true")
_CLI_OPTS = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Djava.awt.headless=true"


def kafka_bin(root: Path) -> Path:
    """/opt/kafka/bin of the image, as shims running the Maven Central jars."""
    bin_dir = root / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    for name, (opts, main) in _KAFKA_SHIMS.items():
        script = bin_dir / name
        shared_file(script, f'#!/bin/sh\nexec java {opts} $KAFKA_LOG4J_OPTS -cp "{kafka_libs()}/*" {main} "$@"\n',
                    mode=0o755)
    return bin_dir


def shared_file(path: Path, text: str, mode: int = 0o644) -> None:
    """Write a file that running processes may be reading: unchanged files are left alone, others replaced
    whole. (Rewriting a shim in place while a broker's start.sh ran it let /bin/sh read it empty and
    "succeed" without formatting the volume: the broker then died with no meta.properties.)"""
    if path.exists() and path.read_text() == text:
        return
    staged = path.with_name(path.name + ".tmp")
    staged.write_text(text)
    staged.chmod(mode)
    staged.replace(path)


@dataclass
class KafkaCluster:
    """The chart's StatefulSet pods as local processes: one rendered start.sh per broker."""

    objects: list[dict[str, Any]]
    root: Path
    procs: Processes
    client_ports: list[int] = field(default_factory=list)
    controller_ports: list[int] = field(default_factory=list)
    nodes: list[Proc] = field(default_factory=list)
    topics_job: subprocess.CompletedProcess[str] | None = None   # the last run of run_topics_job()
    # The external SASL_SSL listener, when the site turns it on (external.enabled): one loopback port per
    # broker, the Secrets' contents (kafka-external-tls from the cluster CA code edgeai up uses,
    # kafka-external-users with a password per declared user) and the CA file clients trust.
    external_ports: list[int] = field(default_factory=list)
    # What the brokers advertise on that listener, when a relay stands in front of it (default: its ports).
    advertised_ports: list[int] = field(default_factory=list)
    external_users: dict[str, str] = field(default_factory=dict)
    external_tls: dict[str, str] = field(default_factory=dict)
    ca_file: str = ""

    @property
    def namespace(self) -> str:
        return find(self.objects, "StatefulSet", "kafka")[0]["metadata"]["namespace"]

    @property
    def brokers(self) -> int:
        return find(self.objects, "StatefulSet", "kafka")[0]["spec"]["replicas"]

    @property
    def bootstrap(self) -> str:
        return ",".join(f"127.0.0.1:{p}" for p in self.client_ports)

    def env(self) -> dict[str, str]:
        return {"PATH": os.environ["PATH"], "HOME": str(self.root), "KAFKA_JVM_PERFORMANCE_OPTS": _JVM_PERFORMANCE_OPTS,
                "KAFKA_CLI_OPTS": _CLI_OPTS}

    def _log4j(self) -> dict[str, str]:
        path = self.root / "log4j2.properties"
        shared_file(path, config_map(self.objects, "kafka")["log4j2.properties"])
        return {"/etc/kafka/edgeai/log4j2.properties": str(path)}

    @property
    def external(self) -> bool:
        return "EXTERNAL://" in config_map(self.objects, "kafka")["server.properties"]

    @property
    def external_bootstrap(self) -> str:
        return ",".join(f"127.0.0.1:{p}" for p in self.external_ports)

    def external_client(self, user: str, password: str | None = None) -> dict[str, str]:
        """Client properties of a device on the external listener (TLS with the CA, SCRAM-SHA-512)."""
        pw = self.external_users[user] if password is None else password
        return {"security.protocol": "SASL_SSL", "sasl.mechanism": "SCRAM-SHA-512",
                "sasl.jaas.config": "org.apache.kafka.common.security.scram.ScramLoginModule required "
                                    f'username="{user}" password="{pw}";',
                "ssl.truststore.type": "PEM", "ssl.truststore.location": self.ca_file}

    def _prepare_external(self) -> None:
        from edgeai import kafka_external
        release = {"brokers": self.brokers, "external": {"enabled": True, "users": [
            {"name": n} for n in self.declared_external_users()]}}
        values = kafka_external.ensure(self.root / "state", release)
        self.external_tls = {"KAFKA_EXTERNAL_TLS_CERT": values["kafkaExternalTlsCert"],
                             "KAFKA_EXTERNAL_TLS_KEY": values["kafkaExternalTlsKey"]}
        self.external_users = dict(line.split(" ", 1) for line in values["kafkaExternalUsers"].splitlines())
        self.ca_file = str(self.root / "state" / "gateway-tls" / "ca.crt")

    def declared_external_users(self) -> list[str]:
        script = config_map(self.objects, "kafka-topics")["topics.sh"]
        return [line.split('"')[1] for line in script.splitlines() if line.strip().startswith("ensure_user \"")]

    def start(self, timeout: float = 120) -> KafkaCluster:
        n = self.brokers
        self.client_ports = [free_port() for _ in range(n)]
        self.controller_ports = [free_port() for _ in range(n)]
        if self.external:
            self.external_ports = [free_port() for _ in range(n)]
            self._prepare_external()
        for i in range(n):
            self.nodes.append(self._start_node(i))
        for i, node in enumerate(self.nodes):
            node.wait_for_log("Kafka Server started", timeout)
            node.wait_for_port(self.client_ports[i], timeout)
        return self

    def _start_node(self, i: int) -> Proc:
        """kafka-<i> of the StatefulSet: its start.sh, env and ConfigMap, on 127.0.0.1."""
        data = config_map(self.objects, "kafka")
        ns = self.namespace
        node = self.root / f"kafka-{i}"
        node.mkdir(parents=True, exist_ok=True)
        # Hostnames and ports: the quorum's pod DNS names and the fixed ports 9092/9093 become one
        # loopback port pair per broker; the data volume becomes a directory.
        voters = ",".join(f"{j}@kafka-{j}.kafka-headless.{ns}.svc:9093" for j in range(self.brokers))
        local_voters = ",".join(f"{j}@127.0.0.1:{self.controller_ports[j]}" for j in range(self.brokers))
        props = adapt(data["server.properties"], [
            (f"controller.quorum.voters={voters}\n", f"controller.quorum.voters={local_voters}\n"),
            ("listeners=CLIENT://:9092,CONTROLLER://:9093",
             f"listeners=CLIENT://127.0.0.1:{self.client_ports[i]},CONTROLLER://127.0.0.1:{self.controller_ports[i]}"),
            ("log.dirs=/var/lib/kafka/data/logs", f"log.dirs={node}/data/logs"),
        ] + ([(",EXTERNAL://:9094\n", f",EXTERNAL://127.0.0.1:{self.external_ports[i]}\n")] if self.external else []),
            "server.properties")
        (node / "server.properties").write_text(props)
        start = adapt(data["start.sh"], [
            ("/etc/kafka/edgeai/server.properties", str(node / "server.properties")),
            ("/tmp/kafka", str(node / "tmp")),
            ("CLIENT://${POD_NAME}.${HEADLESS_SERVICE}.${POD_NAMESPACE}.svc:9092",
             f"CLIENT://127.0.0.1:{self.client_ports[i]}"),
            ("/opt/kafka/bin/", f"{kafka_bin(self.root)}/"),
        ], "start.sh")
        if self.external:   # the advertised node ports become the loopback ports of the brokers
            line = next(x for x in start.splitlines() if x.strip().startswith("external_advertised=("))
            start = adapt(start, {line: "external_advertised=(" + " ".join(
                f'"127.0.0.1:{p}"' for p in (self.advertised_ports or self.external_ports)) + ")"}, "start.sh")
        (node / "start.sh").write_text(start)
        c = container(self.objects, "StatefulSet", "kafka", "kafka")
        rendered = env_values(c)
        if self.external:
            assert rendered["KAFKA_EXTERNAL_TLS_KEY"] == {"secretKeyRef": {"name": "kafka-external-tls",
                                                                          "key": "tls.key"}}
        env = {**self.env(),
               "POD_NAME": f"kafka-{i}", "POD_NAMESPACE": ns,     # the downward API
               "HEADLESS_SERVICE": rendered["HEADLESS_SERVICE"], "KAFKA_CLUSTER_ID": rendered["KAFKA_CLUSTER_ID"],
               "KAFKA_HEAP_OPTS": rendered["KAFKA_HEAP_OPTS"], "EXTRA_ARGS": rendered["EXTRA_ARGS"],
               "LOG_DIR": adapt(rendered["LOG_DIR"], {"/tmp": str(node / "tmp")}),
               "KAFKA_LOG4J_OPTS": adapt(rendered["KAFKA_LOG4J_OPTS"], self._log4j()), **self.external_tls}
        assert c["command"] == ["/bin/bash", "/etc/kafka/edgeai/start.sh"]
        return self.procs.start(Proc(f"kafka-{i}", ["/bin/bash", str(node / "start.sh")], node / "kafka.log", env))

    def restart(self, i: int, timeout: float = 120) -> None:
        """Start broker i again on its data directory (after kill())."""
        self.nodes[i] = self._start_node(i)
        self.nodes[i].wait_for_log("Kafka Server started", timeout)
        self.nodes[i].wait_for_port(self.client_ports[i], timeout)

    def run_topics_job(self, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        """The topics Job's rendered script, against the local brokers."""
        job_tmp = self.root / "topics-tmp"
        job_tmp.mkdir(exist_ok=True)
        script = adapt(config_map(self.objects, "kafka-topics")["topics.sh"],
                       {"/opt/kafka/bin/": f"{kafka_bin(self.root)}/",
                        **({"/tmp/scram.properties": f"{job_tmp}/scram.properties",
                            "/tmp/users.txt": f"{job_tmp}/users.txt"} if self.external else {})}, "topics.sh")
        path = self.root / "topics.sh"
        path.write_text(script)
        c = container(self.objects, "Job", "kafka-topics", "topics")
        rendered = env_values(c)
        assert rendered["KAFKA_BOOTSTRAP"] == "kafka:9092"   # the client Service, in-namespace
        log4j = self.root / "topics-log4j2.properties"
        log4j.write_text(config_map(self.objects, "kafka-topics")["log4j2.properties"])
        env = {**self.env(), "KAFKA_BOOTSTRAP": self.bootstrap, "KAFKA_HEAP_OPTS": rendered["KAFKA_HEAP_OPTS"],
               "LOG_DIR": str(self.root / "topics-logs"),
               **({"KAFKA_EXTERNAL_USERS": "".join(f"{u} {p}\n" for u, p in self.external_users.items())}
                  if self.external else {}),
               "KAFKA_LOG4J_OPTS": adapt(rendered["KAFKA_LOG4J_OPTS"],
                                         {"/etc/kafka/edgeai/log4j2.properties": str(log4j)})}
        proc = subprocess.run(["/bin/bash", str(path)], env=env, capture_output=True, text=True, timeout=timeout,
                              check=False)
        assert proc.returncode == 0, f"topics job failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        self.topics_job = proc
        return proc


# --- Redis --------------------------------------------------------------------------------------

def start_redis(objects: list[dict[str, Any]], root: Path, procs: Processes, password: str,
                port: int | None = None, query_password: str | None = None) -> tuple[Proc, int]:
    """The StatefulSet's redis container: its rendered start.sh and redis.conf; `query_password` is what
    Secret redis-query-auth gives it when the query API is on (start.sh creates its read-only user)."""
    data = config_map(objects, "redis")
    port = port or free_port()
    root.mkdir(parents=True, exist_ok=True)
    conf = adapt(data["redis.conf"], [
        ("\nbind * -::*\n", "\nbind 127.0.0.1\n"),
        ("\nport 6379\n", f"\nport {port}\n"),
        ("\ndir /data\n", f"\ndir {root}\n"),
    ], "redis.conf")
    (root / "redis.conf").write_text(conf)
    start = adapt(data["start.sh"], {"/etc/redis/redis.conf": str(root / "redis.conf")}, "start.sh")
    (root / "start.sh").write_text(start)
    c = container(objects, "StatefulSet", "redis", "redis")
    assert c["command"] == ["sh", "/etc/redis/start.sh"]
    assert env_values(c)["REDIS_PASSWORD"] == {"secretKeyRef": {"name": "redis-auth", "key": "password"}}
    env = {"PATH": os.environ["PATH"], "REDIS_PASSWORD": password}
    if query_password is not None:
        query_ref = {"secretKeyRef": {"name": "redis-query-auth", "key": "password"}}
        assert env_values(c)["REDIS_QUERY_PASSWORD"] == query_ref
        env["REDIS_QUERY_PASSWORD"] = query_password
    proc = procs.start(Proc("redis", ["sh", str(root / "start.sh")], root / "redis.log", env))
    proc.wait_for_port(port, 30)
    return proc, port


def redis_cli(port: int, *args: str, password: str | None = None) -> str:
    env = {"PATH": os.environ["PATH"], **({"REDISCLI_AUTH": password} if password else {})}
    return subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", str(port), *args], capture_output=True,
                          text=True, env=env, timeout=20, check=False).stdout.strip()


# --- nginx (gateway) ----------------------------------------------------------------------------

def start_gateway(objects: list[dict[str, Any]], root: Path, procs: Processes, api_keys: list[str],
                  upstreams: dict[str, str], upstream_port: int, grpc_upstream_port: int | None = None,
                  internal_keys: tuple[str, ...] = (CEP_API_KEY,)) -> tuple[Proc, dict[str, int]]:
    """The gateway Deployment's nginx: the chart's init script renders the includes (resolver from
    this machine's resolv.conf, API keys from a file standing for the Secret), then nginx runs the
    rendered nginx.conf. `upstreams` maps each rendered Service DNS name to a loopback address;
    the fixed upstream ports 8080/8081 become the local servers' ports. A gateway exposed outside the
    cluster also gets its TLS listeners (ports https, grpcs) with a certificate for 127.0.0.1 of a CA
    made here (root/gateway-tls/ca.crt). Key lines may carry a caller and models (charts/gateway)."""
    data = config_map(objects, "gateway")
    ports = {"http": free_port(), "grpc": free_port(), "status": free_port()}
    tls = "listen 8443 ssl" in data["nginx.conf"]
    if tls:
        ports.update(https=free_port(), grpcs=free_port())
        make_server_certificate(root)
    for sub in ("generated", "run"):
        (root / sub).mkdir(parents=True, exist_ok=True)
        (root / sub).chmod(0o777)  # nginx workers run as nobody when the tests run as root
    replacements: list[tuple[str, str]] = [
        ("/tmp/", f"{root}/run/"), ("/etc/nginx/generated", f"{root}/generated"),
        ("listen 8080 ", f"listen 127.0.0.1:{ports['http']} "),
        ("listen 8081 ", f"listen 127.0.0.1:{ports['grpc']} "),
        ("listen 127.0.0.1:8090;", f"listen 127.0.0.1:{ports['status']};"),
    ]
    if tls:
        replacements += [("/etc/nginx/tls/", f"{root}/gateway-tls/"),
                         ("listen 8443 ", f"listen 127.0.0.1:{ports['https']} "),
                         ("listen 8444 ", f"listen 127.0.0.1:{ports['grpcs']} ")]
    conf = adapt(data["nginx.conf"], replacements, "nginx.conf")
    for host, local in upstreams.items():
        conf = adapt(conf, {f'"{host}"': f'"{local}"'}, "nginx.conf")
    conf = re.sub(r"(proxy_pass http://\$edgeai_route_\w+):8080;", rf"\1:{upstream_port};", conf)
    conf = re.sub(r"(grpc_pass grpc://\$edgeai_grpc_target):8081;",
                  rf"\1:{grpc_upstream_port or upstream_port};", conf)
    (root / "nginx.conf").write_text(conf)
    (root / "render-includes.sh").write_text(data["render-includes.sh"])
    (root / "keys").write_text("".join(f"{k}\n" for k in api_keys))
    (root / "internal-keys").write_text("".join(f"{k}\n" for k in internal_keys))
    init_env = env_values(container(objects, "Deployment", "gateway", "render-includes"))
    assert init_env["INTERNAL_KEYS_FILE"] == "/etc/nginx/api-keys/internal-keys"
    env = {"PATH": os.environ["PATH"], "OUT_DIR": str(root / "generated"), "API_KEYS_FILE": str(root / "keys"),
           "INTERNAL_KEYS_FILE": str(root / "internal-keys")}
    init = subprocess.run(["sh", str(root / "render-includes.sh")], env=env, capture_output=True, text=True,
                          check=False)
    assert init.returncode == 0, init.stderr
    nginx = shutil.which("nginx")
    test = subprocess.run([nginx, "-t", "-c", str(root / "nginx.conf"), "-e", "stderr"], capture_output=True,
                          text=True, check=False)
    assert test.returncode == 0, f"nginx -t refused the rendered config:\n{test.stderr}"
    proc = procs.start(Proc("nginx", [nginx, "-c", str(root / "nginx.conf"), "-e", "stderr", "-g", "daemon off;"],
                            root / "nginx.log"))
    proc.wait_for_port(ports["http"], 20)
    return proc, ports


def make_server_certificate(root: Path) -> str:
    """What Secret gateway-tls holds (tls.crt, tls.key for 127.0.0.1, signed by a CA of its own), made by
    the very code that makes the local site's (edgeai.gateway_tls) into root/gateway-tls/; returns the
    CA file a client trusts."""
    from edgeai import gateway_tls
    gateway_tls.ensure(root)
    return str(gateway_tls.ca_file(root))


# --- MLServer -----------------------------------------------------------------------------------

def start_mlserver(objects: list[dict[str, Any]], deployment: str, root: Path, procs: Processes,
                   write_model: Callable[[Path], None], host: str = "127.0.0.1",
                   ports: dict[str, int] | None = None, timeout: float = 180) -> tuple[Proc, dict[str, int]]:
    """One model-serving Deployment's MLServer: its rendered settings.json and model-settings.json
    mounted as the pod has them (/mnt/models -> root/mnt/models, /tmp -> root/tmp), the artifact the
    rclone init container would fetch written by `write_model(model_dir)`, and the image's command
    `mlserver start $MLSERVER_MODELS_DIR`."""
    (dep,) = find(objects, "Deployment", deployment)
    spec = dep["spec"]["template"]["spec"]
    server = spec["containers"][0]
    assert server["name"] == "mlserver"
    cm_name = next(v["configMap"]["name"] for v in spec["volumes"] if "configMap" in v)
    data = config_map(objects, cm_name)
    mounts = {m["mountPath"]: m.get("subPath") for m in server["volumeMounts"]}
    model_settings = json.loads(data["model-settings.json"])
    name = model_settings["name"]
    assert mounts[f"/mnt/models/{name}/model-settings.json"] == "model-settings.json"
    assert mounts["/mnt/models/settings.json"] == "settings.json"
    models = root / "mnt" / "models"
    (models / name).mkdir(parents=True, exist_ok=True)
    ports = ports or {"http_port": free_port(), "grpc_port": free_port(), "metrics_port": free_port()}
    settings = json.loads(data["settings.json"])
    assert (settings["http_port"], settings["grpc_port"], settings["metrics_port"]) == (8080, 8081, 8082)
    assert settings["host"] == "0.0.0.0"
    settings.update(ports, host=host,
                    metrics_dir=adapt(settings["metrics_dir"], {"/tmp": str(root / "tmp")}),
                    environments_dir=adapt(settings["environments_dir"], {"/tmp": str(root / "tmp")}))
    (models / "settings.json").write_text(json.dumps(settings))
    model_settings["parameters"]["uri"] = adapt(model_settings["parameters"]["uri"], {"/mnt/models": str(models)})
    (models / name / "model-settings.json").write_text(json.dumps(model_settings))
    write_model(models / name)
    env = {**{e["name"]: e["value"] for e in server["env"]}, "PATH": f"{mlserver_venv()}/bin:/usr/bin:/bin"}
    env = {k: adapt(v, {"/tmp": str(root / "tmp")}) if v.startswith("/tmp") else v for k, v in env.items()}
    env["MLSERVER_MODELS_DIR"] = adapt(env["MLSERVER_MODELS_DIR"], {"/mnt/models": str(models)})
    (root / "tmp").mkdir(parents=True, exist_ok=True)
    proc = procs.start(Proc(f"mlserver-{deployment}", [str(mlserver_venv() / "bin" / "mlserver"), "start",
                                                       env["MLSERVER_MODELS_DIR"]],
                            root / "mlserver.log", env, cwd=root / "tmp"))
    base = f"http://{host}:{ports['http_port']}"
    proc.wait_for(lambda: http_status(f"{base}/v2/models/{name}/ready") == 200, f"model {name} ready", timeout)
    return proc, ports


def mlserver_python(code: str, *args: str, timeout: float = 120) -> str:
    """Run Python in MLServer's venv (training models, the gRPC client, onnxruntime)."""
    proc = subprocess.run([str(mlserver_venv() / "bin" / "python"), "-c", code, *args], capture_output=True,
                          text=True, timeout=timeout, check=False)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return proc.stdout


# --- HTTP ---------------------------------------------------------------------------------------

def http(url: str, body: Any = None, headers: dict[str, str] | None = None, timeout: float = 10,
         source: str | None = None) -> tuple[int, Any]:
    """(status, parsed JSON or text); `source` binds the client to a loopback address."""
    import http.client
    import urllib.parse

    u = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout,
                                      source_address=(source, 0) if source else None)
    try:
        data = json.dumps(body).encode() if body is not None else None
        hdrs = {"Content-Type": "application/json", **(headers or {})}
        conn.request("POST" if data is not None else "GET", u.path or "/", body=data, headers=hdrs)
        resp = conn.getresponse()
        raw = resp.read().decode()
        try:
            return resp.status, json.loads(raw)
        except ValueError:
            return resp.status, raw
    finally:
        conn.close()


def http_status(url: str) -> int | None:
    try:
        return http(url, timeout=2)[0]
    except OSError:
        return None


# --- site objects -------------------------------------------------------------------------------

def host_of(component: str, service: str | None = None) -> str:
    """In-cluster DNS name the composition gives a component's Service."""
    return service_host(component, service)


@contextlib.contextmanager
def processes() -> Iterator[Processes]:
    procs = Processes()
    try:
        yield procs
    finally:
        procs.close()


# --- Siddhi -------------------------------------------------------------------------------------

@dataclass
class SiddhiRunner:
    """The siddhi Deployment's runner container as a local process: the chart's start.sh (it derives
    the inference auth header from the API-key Secret), then the real Siddhi engine on the rendered
    apps. The runner image's Carbon/OSGi shell (runner.sh) is replaced by edgeai.engines.SiddhiRunner,
    which runs the same `-Dapps=DIR` with siddhi-core and the stand-in transports (see its javadoc)."""

    objects: list[dict[str, Any]]
    root: Path
    procs: Processes
    kafka_bootstrap: str
    gateway_url: str
    redis_port: int
    redis_password: str
    api_keys: list[str]
    metrics_port: int = field(default_factory=free_port)
    http_port: int = field(default_factory=free_port)   # the runner's HTTP port (service.httpPort 9090)
    # Where the app's http sink posts alerts (alertmanager.enabled): a real Alertmanager when a test
    # starts one, else a free port nobody listens on (the sink logs the refused posts, nothing waits).
    alertmanager_url: str = field(default_factory=lambda: f"http://127.0.0.1:{free_port()}")
    proc: Proc | None = None
    starts: int = 0

    def prepare(self) -> None:
        data = config_map(self.objects, "siddhi-apps")
        apps = self.root / "apps"
        apps.mkdir(parents=True, exist_ok=True)
        ns_kafka = f"'{service_host('kafka')}:9092'"
        for name, text in data.items():
            local = adapt(text, [
                (f"bootstrap.servers={ns_kafka}", f"bootstrap.servers='{self.kafka_bootstrap}'"),
                (f"publisher.url='http://{service_host('gateway')}:8080/", f"publisher.url='{self.gateway_url}/"),
                ("host='redis.edgeai-redis.svc', port='6379'", f"host='127.0.0.1', port='{self.redis_port}'"),
            ], name)
            am = "publisher.url='http://monitoring-alertmanager.edgeai-monitoring.svc:9093/api/v2/alerts'"
            if am in local:  # the Alertmanager sink (alertmanager.enabled)
                local = local.replace(am, f"publisher.url='{self.alertmanager_url}/api/v2/alerts'")
            if "server.url='http://0.0.0.0:9080'" in local:  # the metrics sink (metrics.enabled)
                local = local.replace("server.url='http://0.0.0.0:9080'",
                                      f"server.url='http://127.0.0.1:{self.metrics_port}'")
            (apps / name).write_text(local)
        config = config_map(self.objects, "siddhi-config")
        (self.root / "deployment.yaml").write_text(
            adapt(config["deployment.yaml"], {"/var/lib/siddhi/state": str(self.root / "state")}, "deployment.yaml"))
        start = adapt(config["start.sh"], {
            "cd /home/siddhi_user/siddhi-runner/bin\nexec sh ./runner.sh -Dapps=/etc/siddhi/apps":
                f'exec java $JAVA_OPTS -Dorg.slf4j.simpleLogger.log.org.apache.kafka=warn '
                f'-Dedgeai.http.port={self.http_port} -cp "{harness_classpath()}" edgeai.engines.SiddhiRunner '
                f'-Dapps={apps} --config {self.root / "deployment.yaml"}'}, "start.sh")
        (self.root / "start.sh").write_text(start)

    def start(self, timeout: float = 120, wait_assigned: bool = True) -> SiddhiRunner:
        """Start (again) and wait until the app runs and, unless told otherwise, until its Kafka
        source holds its partitions (after a crash that waits for the dead member's session to expire)."""
        if self.starts == 0:
            self.prepare()
        runner = container(self.objects, "Deployment", "siddhi", "runner")
        assert runner["command"] == ["sh", "/etc/siddhi/conf/start.sh"]
        assert {p["containerPort"] for p in runner["ports"]} >= {9090}
        rendered = env_values(runner)
        assert rendered["REDIS_PASSWORD"] == {"secretKeyRef": {"name": "redis-auth", "key": "password"}}
        assert rendered["GATEWAY_API_KEYS"] == {"secretKeyRef": {"name": "cep-api-key", "key": "key"}}
        env = {"PATH": os.environ["PATH"], "HOME": str(self.root), "JAVA_OPTS": rendered["JAVA_OPTS"],
               "REDIS_PASSWORD": self.redis_password, "GATEWAY_API_KEYS": "\n".join(self.api_keys) + "\n"}
        self.starts += 1
        self.proc = self.procs.start(Proc(f"siddhi-{self.starts}", ["sh", str(self.root / "start.sh")],
                                          self.root / f"siddhi-{self.starts}.log", env, cwd=self.root))
        self.proc.wait_for_log("edgeai-harness: ready", timeout)
        if wait_assigned:
            self.proc.wait_for_log("partition(s)", timeout)
        return self

    def backup(self, app: str, timeout: float = 60) -> str:
        """The runner's `POST /siddhi-apps/{app}/backup`: persist the app's state now."""
        try:
            status, body = http(f"http://127.0.0.1:{self.http_port}/siddhi-apps/{app}/backup", {}, timeout=timeout)
        except TimeoutError:
            # What the app's threads wait on is the only useful clue: Siddhi waits up to 100 s for
            # the threads inside the app to leave before it snapshots.
            assert self.proc is not None
            dump = subprocess.run(["jcmd", str(self.proc.pid), "Thread.print"], capture_output=True, text=True,
                                  timeout=30).stdout
            raise AssertionError(f"backup of {app} unanswered after {timeout:.0f} s\n"
                                 f"{self.proc.output()}\n{dump}") from None
        assert status == 200, body
        return body["revision"]

    def metrics(self) -> dict[str, float]:
        """edgeai_cep_events_total by stage."""
        return {labels["stage"]: value for labels, value in self.series("edgeai_cep_events_total")}

    def series(self, metric: str) -> list[tuple[dict[str, str], float]]:
        """Every series of `metric` the runner's metrics port serves: (labels, value)."""
        status, text = http(f"http://127.0.0.1:{self.metrics_port}/metrics")
        assert status == 200, text
        out = []
        for line in text.splitlines():
            if m := re.match(rf'{metric}\{{(.*)\}} ([\d.eE+]+)$', line):
                out.append((dict(re.findall(r'(\w+)="([^"]*)"', m.group(1))), float(m.group(2))))
        return out


class LocalSite:
    """A site's data path engines, one of each: Kafka (given), Redis, MLServer serving the model the
    Siddhi app calls, and the gateway (nginx) in front of it; the Siddhi runner is made per use."""

    def __init__(self, site: dict[str, list[dict[str, Any]]], kafka: KafkaCluster, root: Path, procs: Processes,
                 redis_password: str, api_key: str, model: str = "sensor-anomaly") -> None:
        from tests.realengines import models

        self.objects = site
        self.kafka = kafka
        self.root = root
        self.redis_password = redis_password
        self.api_key = api_key
        self.redis, self.redis_port = start_redis(site["redis"], root / "redis", procs, redis_password)
        self.mlserver, self.model_ports = start_mlserver(site[f"model-{model}"], model, root / "mlserver", procs,
                                                         models.sensor_anomaly)
        self.gateway, self.gateway_ports = start_gateway(
            site["gateway"], root / "gateway", procs, [api_key], {host_of("model-serving", model): "127.0.0.1"},
            upstream_port=self.model_ports["http_port"], grpc_upstream_port=self.model_ports["grpc_port"])

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.gateway_ports['http']}"

    def siddhi(self, root: Path, procs: Processes, objects: list[dict[str, Any]] | None = None) -> SiddhiRunner:
        """The site's Siddhi runner; `objects`: its rendered objects, adapted by the caller."""
        return SiddhiRunner(objects or self.objects["siddhi"], root, procs, self.kafka.bootstrap, self.gateway_url,
                            self.redis_port, self.redis_password, [CEP_API_KEY])

    def redis_hash(self, key: str) -> dict[str, str]:
        out = redis_cli(self.redis_port, "hgetall", key, password=self.redis_password).splitlines()
        return dict(zip(out[::2], out[1::2], strict=True))
