"""What users really type: a corpus of mutations of the shipped `staging` environment, each run
through `edgeai validate --json` and asserted by exit code, file, YAML path and message. Then a
fuzz test: random mutations of the shipped files never end in a traceback or a hang.
"""

from __future__ import annotations

import json
import random
import shutil
import signal
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from edgeai import cli, fleet, paths
from edgeai.problems import InputErrors

SITE, ENV, MODEL = "sites/stg-eu-1.yaml", "environment.yaml", "models/demand-forecast.yaml"
TOKEN = "ghp_" + "a1B2c3D4e5F6g7H8i9J0" * 2


@dataclass(frozen=True)
class Case:
    file: str
    mutation: tuple             # ("append", text) | ("replace", old, new) | ("write", bytes)
    path: str                   # the YAML path reported, as format_path writes it
    message: str                # a fragment of the message (what was expected)
    code: int = 2


def components(text: str) -> tuple:
    return ("append", "components:\n" + text)


def waiver(expires: str, reason: str = "the tills call the gateway on a node port") -> tuple:
    return ("append", f"waivers:\n  - rule: EAI-NET-002\n    reason: {reason}\n    expires: {expires}\n")


def laughs() -> bytes:
    lines = ["a: &a [x, x, x, x, x, x, x, x, x]"]
    for prev, name in zip("abcdefg", "bcdefgh", strict=True):
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 9) + "]")
    return ("# yaml-language-server: $schema=../../schema/site.schema.json\n" + "\n".join(lines) + "\n").encode()


CASES: dict[str, Case] = {
    # -- component overrides of the wrong type or shape (used to crash the cross-file rules)
    "brokers as a string": Case(SITE, components("  kafka:\n    brokers: \"3\"\n"),
                                "components.kafka.brokers", "expected integer, got a string \"3\""),
    "component as a scalar": Case(SITE, components("  kafka: 3\n"), "components.kafka", "expected object"),
    "inference as a scalar": Case(SITE, components("  siddhi:\n    inference: sensor-anomaly\n"),
                                  "components.siddhi.inference", "expected object"),
    "cpu as a list": Case(SITE, components("  redis:\n    resources:\n      requests: {cpu: [1]}\n"),
                          "components.redis.resources.requests.cpu", "expected string or number"),
    "replicas as a string": Case(SITE, components("  gateway:\n    replicas: \"2\"\n"),
                                 "components.gateway.replicas", "expected integer"),
    "replication factor as a string": Case(ENV, components("  kafka:\n    replicationFactor: \"3\"\n"),
                                           "components.kafka.replicationFactor", "expected integer or null"),
    "autoscaling as a boolean": Case(SITE, components("  model-serving:\n    autoscaling: true\n"),
                                     "components.model-serving.autoscaling", "expected object"),
    "edgeai-common values": Case(SITE, components("  kafka:\n    edgeai-common: {brokers: 3}\n"),
                                 "components.kafka.edgeai-common", "this key takes no values"),
    "unknown chart key": Case(SITE, components("  kafka:\n    brokerz: 3\n"), "components.kafka.brokerz",
                              "unknown key 'brokerz'"),
    "boolean as a string": Case(ENV, components("  monitoring:\n    grafana: {enabled: \"yes\"}\n"),
                                "components.monitoring.grafana.enabled", "expected boolean"),
    "null component": Case(SITE, components("  kafka: null\n"), "components.kafka", "expected object, got null"),
    "misspelt component": Case(SITE, components("  kafak: {}\n"), "components.kafak", "did you mean 'kafka'"),
    "quantity of letters": Case(SITE, components("  redis:\n    resources:\n      requests: {cpu: lots}\n"),
                                "components.redis.resources.requests.cpu", "does not have the expected form"),
    # -- quantities in the wrong unit
    "millicores typed as cores": Case(SITE, components("  redis:\n    resources:\n      requests: {cpu: 500}\n"),
                                      "components.redis.resources.requests.cpu", "did you mean '500m'"),
    "memory without a unit": Case(SITE, components("  redis:\n    resources:\n      limits: {memory: 512}\n"),
                                  "components.redis.resources.limits.memory", "is 512 bytes"),
    "memory over a terabyte": Case(ENV, components("  kafka:\n    resources:\n      limits: {memory: 2048Gi}\n"),
                                   "components.kafka.resources.limits.memory", "over 1Ti"),
    "ephemeral storage in bytes": Case(
        SITE, components("  gateway:\n    resources:\n      requests: {ephemeral-storage: 100}\n"),
        "components.gateway.resources.requests.ephemeral-storage", "is 100 bytes"),
    "node cpu in millicores": Case(SITE, ("replace", "cpu: 8", "cpu: 8000"), "nodes.cpu",
                                   "expected a value <= 256, got 8000"),
    "node memory in Mi typed as Gi": Case(SITE, ("replace", "memory: 32Gi", "memory: 32768Gi"), "nodes.memory",
                                          "\"32768Gi\" does not have the expected form"),
    "disk in GB": Case(SITE, ("replace", "disk: 200Gi", "disk: 200GB"), "nodes.disk",
                       "\"200GB\" does not have the expected form"),
    "zero nodes": Case(SITE, ("replace", "count: 1", "count: 0"), "nodes.count", "expected a value >= 1"),
    # -- image references
    "repository with a tag": Case(SITE, components("  kafka:\n    image: {repository: apache/kafka:4.1.1}\n"),
                                  "components.kafka.image.repository", "already carries a tag"),
    "repository with a digest": Case(
        SITE, components("  kafka:\n    image: {repository: \"apache/kafka@sha256:" + "a" * 64 + "\"}\n"),
        "components.kafka.image.repository", "already carries a tag or digest"),
    "tag with a space": Case(SITE, components("  kafka:\n    image: {tag: \"4.1.1 beta\"}\n"),
                             "components.kafka.image.tag", "is not a valid image tag"),
    "upper-case repository": Case(SITE, components("  kafka:\n    image: {repository: Apache/Kafka}\n"),
                                  "components.kafka.image.repository", "is not a valid image name"),
    "tag latest": Case(SITE, components("  kafka:\n    image: {tag: latest}\n"), "components.kafka.image.tag",
                       "should not be valid"),
    "model server repository with a tag": Case(
        ENV, components("  model-serving:\n    images:\n      mlserver: {repository: seldonio/mlserver:1.7.1}\n"),
        "components.model-serving.images.mlserver.repository", "already carries a tag"),
    "registry as a URL": Case(SITE, components("  kafka:\n    image: {registry: \"https://docker.io\"}\n"),
                              "components.kafka.image.registry", "is not a registry host"),
    "bad digest": Case(SITE, components("  kafka:\n    image: {digest: \"sha256:abc\"}\n"),
                       "components.kafka.image.digest", "does not have the expected form"),
    # -- CIDRs
    "prefix over 32": Case(SITE, ("replace", "192.168.24.10/32", "192.168.24.10/266"), "apiServerCIDR",
                           "192.168.24.10/266"),
    "octet over 255": Case(SITE, ("replace", "192.168.24.10/32", "192.168.24.300/32"), "apiServerCIDR",
                           "is not a valid cidr"),
    "prefix 33": Case(ENV, ("replace", "203.0.113.0/28", "203.0.113.0/33"), "cloud.egressCIDRs[0]",
                      "is not a valid cidr"),
    "address without prefix": Case(ENV, ("replace", "203.0.113.0/28", "203.0.113.0"), "cloud.egressCIDRs[0]",
                                   "does not have the expected form"),
    "chart CIDR over 32": Case(
        SITE, components("  kafka:\n    networkPolicy: {egressCIDRs: [10.0.0.0/40]}\n"),
        "components.kafka.networkPolicy.egressCIDRs[0]", "is not a valid CIDR"),
    # -- dates
    "February 30th": Case(ENV, waiver("\"2027-02-30\""), "waivers[0].expires", "day is out of range for month"),
    "February 30th unquoted": Case(ENV, waiver("2027-02-30"), "waivers[0].expires", "is not a valid date"),
    "month 13": Case(ENV, waiver("\"2027-13-01\""), "waivers[0].expires", "is not a valid date"),
    "European date": Case(ENV, waiver("\"31/03/2027\""), "waivers[0].expires", "does not have the expected form"),
    "short reason": Case(ENV, waiver("\"2027-03-31\"", reason="because"), "waivers[0].reason",
                         "expected at least 10 character"),
    "waiver without reason": Case(ENV, ("append", "waivers:\n  - rule: EAI-NET-002\n    expires: \"2027-03-31\"\n"),
                                  "waivers[0]", "missing required key 'reason'"),
    # -- secrets typed in strings and URLs
    "token in the Git URL": Case(ENV, ("replace", "https://github.com/", f"https://{TOKEN}@github.com/"),
                                 "gitops.repoURL", "holds an access token"),
    "user and password in the Git URL": Case(ENV, ("replace", "https://github.com/",
                                                   "https://deploy:hunter2pass@github.com/"),
                                             "gitops.repoURL", "a password in a URL"),
    "long token as URL user": Case(ENV, ("replace", "https://github.com/",
                                         "https://x9f8e7d6c5b4a3f2e1d0c9b8@github.com/"),
                                   "gitops.repoURL", "a token in a URL"),
    "plain http remote write": Case(ENV, ("replace", "https://metrics.", "http://metrics."),
                                    "cloud.prometheusRemoteWrite", "over plain http"),
    "cloud on the site's cluster": Case(ENV, ("replace", "  egressCIDRs: [203.0.113.0/28]",
                                              "  egressCIDRs: [203.0.113.0/28]\n  onSiteCluster: true"),
                                        "cloud.onSiteCluster", "cannot run on its site's kind cluster"),
    "token in a query": Case(ENV, ("replace", "/api/v1/write", "/api/v1/write?token=abc123def456"),
                             "cloud.prometheusRemoteWrite", "a secret in a URL's query"),
    "JAAS password": Case(SITE, ("append", "description: 'org.apache.kafka.common.security.plain.PlainLoginModule "
                                 "required username=\"fra\" password=\"s3cr3t-pw\";'\n"),
                          "description", "a password assignment"),
    "password in a note": Case(SITE, ("append", "description: temporary admin password=Winter2027!\n"),
                               "description", "a password assignment"),
    "cloud key in a model URI": Case(MODEL, ("replace", "s3://edgeai-models/demand-forecast/v12",
                                             "s3://AKIAIOSFODNN7EXAMPLE:wJalrXUtnFEMI@edgeai-models/df/v12"),
                                     "uri", "holds an access token"),
    "password in component values": Case(SITE, components("  siddhi:\n    extraApps:\n      alerts: "
                                                          "\"@source(type='kafka', password='topsecret1')\"\n"),
                                         "components.siddhi.extraApps.alerts", "a password assignment"),
    # -- files that are not what they seem
    "not UTF-8": Case(SITE, ("write", b"# yaml-language-server: $schema=../../schema/site.schema.json\n"
                             b"name: stg-eu-1\ndescription: caf\xe9\n"), "(document)", "is not UTF-8 text"),
    "NUL byte": Case(SITE, ("write", b"name: stg-eu-1\nregion: \x00\n"), "(document)", "unacceptable character"),
    "billion laughs": Case(SITE, ("write", laughs()), "(document)", "expands to more than 100000 values"),
    "huge file": Case(SITE, ("write", b"name: stg-eu-1\n" + b"# filler line of a pasted log\n" * 10000),
                      "(document)", "over the limit of 262144"),
    "nested too deep": Case(SITE, ("write", b"name: stg-eu-1\nx: " + b"[" * 100 + b"]" * 100 + b"\n"),
                            "(document)", "levels"),
    "list as a key": Case(SITE, ("write", b"name: stg-eu-1\n? [a, b]\n: c\n"), "(document)",
                          "a mapping key is a list or a mapping"),
    "bare scalar": Case(MODEL, ("write", b"demand-forecast\n"), "(document)",
                        "expected a YAML mapping at the top level, got a scalar"),
    "tab indentation": Case(SITE, ("replace", "  count: 1", "\tcount: 1"), "(document)", "malformed YAML"),
    "unterminated quote": Case(SITE, ("replace", "region: eu-central", "region: \"eu-central"), "(document)",
                               "malformed YAML"),
    # -- one mistake, one finding
    "unsupported Kubernetes version": Case(ENV, ("replace", "\"1.34.4\"", "\"1.99.0\""), "kubernetesVersion",
                                           "Kubernetes 1.99.0 is not supported"),
    "Kubernetes too old": Case(ENV, ("replace", "\"1.34.4\"", "\"1.24.0\""), "kubernetesVersion",
                               "Kubernetes 1.24.0 is not supported"),
    "Kubernetes version as a number": Case(ENV, ("replace", "\"1.34.4\"", "1.34"), "kubernetesVersion",
                                           "expected string, got a number"),
    # -- sizes
    "huge Siddhi app in values": Case(
        SITE, components("  siddhi:\n    extraApps:\n      big: \"" + "define stream S (v double); " * 5000 + "\"\n"),
        "components.siddhi", "over the limit of 131072"),
    # -- the classic schema mistakes, kept in the corpus
    "region with spaces": Case(SITE, ("replace", "region: eu-central", "region: EU Central"), "region",
                               "does not have the expected form"),
    "too many GPUs": Case(SITE, ("replace", "  disk: 200Gi", "  disk: 200Gi\n  gpu: {count: 9, product: NVIDIA-T4}"),
                          "nodes.gpu.count", "expected a value <= 8"),
    "model replicas as a string": Case(MODEL, ("append", "replicas: \"2\"\n"), "replicas", "expected integer"),
    "canary weight in percent": Case(MODEL, ("replace", "weight: 20", "weight: 20%"), "canary.weight",
                                     "expected integer, got a string \"20%\""),
    "no regions": Case(MODEL, ("replace", "[eu-central, us-east]", "[]"), "regions", "expected at least 1 item"),
    "tier abbreviated": Case(ENV, ("replace", "tier: staging", "tier: stage"), "tier", "did you mean 'staging'"),
    "empty revision": Case(ENV, ("replace", "targetRevision: main", "targetRevision: \"\""),
                           "gitops.targetRevision", "expected at least 1 character"),
    "storage class as a number": Case(SITE, ("replace", "storageClass: local-path", "storageClass: 5"),
                                      "storageClass", "expected string, got an integer 5"),
    "brokers over nodes": Case(SITE, components("  kafka:\n    brokers: 3\n"), "components.kafka.brokers",
                               "3 Kafka brokers on a site of 1 node(s)"),
    # (mutate() adds the typed-in digest to the file too)
    "digest typed in where digests are required": Case(
        ENV, ("replace", "allowedRegistries:", "requireDigest: true\n  allowedRegistries:"),
        "components.kafka.image.digest", "a digest typed into an environment file is one nobody verified"),
}
DIGEST_OVERRIDE = "components:\n  kafka:\n    image: {digest: \"sha256:" + "b" * 64 + "\"}\n"


@pytest.fixture
def fleet_root(tmp_path: Path) -> Path:
    shutil.copytree(paths.ENVIRONMENTS / "staging", tmp_path / "staging")
    return tmp_path


def mutate(root: Path, name: str, case: Case) -> None:
    path = root / "staging" / case.file
    kind, *args = case.mutation
    if kind == "write":
        path.write_bytes(args[0])
    elif kind == "append":
        path.write_text(path.read_text() + args[0])
    else:
        old, new = args
        text = path.read_text()
        assert old in text, f"{old!r} not in {case.file}"
        path.write_text(text.replace(old, new, 1))
    if name == "digest typed in where digests are required":
        path.write_text(path.read_text() + DIGEST_OVERRIDE)


def test_the_corpus_is_large_and_covers_every_class() -> None:
    assert len(CASES) >= 60
    for fragment in ("not UTF-8", "billion", "Kubernetes", "CIDR", "February", "token", "JAAS", "tag", "cores",
                     "edgeai-common", "Siddhi"):
        assert any(fragment.lower() in name.lower() for name in CASES), fragment


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_input_exits_with_file_path_and_message(fleet_root: Path, name: str, capsys) -> None:
    case = CASES[name]
    mutate(fleet_root, name, case)
    code = cli.main(["--environments", str(fleet_root), "validate", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == case.code
    found = [e for e in report["inputErrors"]
             if e["file"].endswith(f"staging/{case.file}") and e["path"] == case.path
             and case.message in f"{e['message']} (fix: {e['fix']})"]
    assert found, json.dumps(report["inputErrors"], indent=1)
    for error in report["inputErrors"]:
        assert error["line"], error      # every problem has a line to jump to
        assert error["message"]


def test_an_unsupported_kubernetes_version_is_one_problem(fleet_root: Path) -> None:
    mutate(fleet_root, "x", CASES["unsupported Kubernetes version"])
    with pytest.raises(InputErrors) as caught:
        fleet.load_fleet(root=fleet_root)
    assert len(caught.value.problems) == 1
    assert caught.value.problems[0].line == 5


# --- fuzz ------------------------------------------------------------------------------------

SEED = 20261202
FUZZ_CASES = 300
SECONDS_PER_CASE = 20
TOKENS = [": ", "- ", "\t", "&a ", "*a", "!!binary ", "\"", "'", "{", "[", "]", "}", "\n", "#", "null", "~", "\x00",
          "2027-02-30", "1e309", "-1", "0x1F", "true", "Gi", "m", "/266", "@sha256:", ":latest", "? ", "<<: *a",
          "\u00e9", "\ufeff", "9" * 30, "password=", "https://u:p@h/"]


def _mutations(rng: random.Random, text: str) -> str:
    chars = list(text)
    for _ in range(rng.randint(1, 6)):
        op = rng.random()
        pos = rng.randrange(len(chars) + 1)
        if op < 0.35:
            chars[pos:pos] = list(rng.choice(TOKENS))
        elif op < 0.6 and chars:
            del chars[pos:pos + rng.randint(1, 12)]
        elif op < 0.8:
            lines = "".join(chars).splitlines(keepends=True)
            if lines:
                i = rng.randrange(len(lines))
                lines.insert(rng.randrange(len(lines) + 1), lines[i])
                chars = list("".join(lines))
        else:
            chars[pos:pos] = list(rng.choice(["  ", " ", "\n  "]))
    return "".join(chars)


class _Timeout(Exception):
    pass


def _alarm(signum, frame):
    raise _Timeout


def test_random_mutations_never_crash_or_hang(tmp_path: Path) -> None:
    """Random mutations of the shipped staging and prod files (deterministic seed) loaded as the gate
    loads them: each ends clean or in located input errors, never in another exception, and within
    SECONDS_PER_CASE (a timer interrupts a hang). A mutated file that loads is an ordinary valid file
    to the renderer, so rendering is left to the other tests."""
    rng = random.Random(SEED)
    sources = sorted(p for env in ("staging", "prod") for p in (paths.ENVIRONMENTS / env).rglob("*.yaml"))
    outcomes = {"clean": 0, "input errors": 0}
    slowest = 0.0
    previous = signal.signal(signal.SIGALRM, _alarm)
    try:
        for n in range(FUZZ_CASES):
            source = rng.choice(sources)
            env_name = source.relative_to(paths.ENVIRONMENTS).parts[0]
            root = tmp_path / f"case-{n}"
            shutil.copytree(paths.ENVIRONMENTS / env_name, root / env_name)
            target = root / source.relative_to(paths.ENVIRONMENTS)
            mutated = _mutations(rng, source.read_text())
            target.write_bytes(mutated.encode("utf-8", errors="surrogateescape") if rng.random() < 0.9
                               else mutated.encode("latin-1", errors="replace"))
            started = time.monotonic()
            signal.setitimer(signal.ITIMER_REAL, SECONDS_PER_CASE)
            try:
                fleet.load_fleet(root=root)
                outcomes["clean"] += 1
            except InputErrors as err:
                outcomes["input errors"] += 1
                for problem in err.problems:
                    assert problem.message and str(problem)
            except _Timeout:
                pytest.fail(f"case {n} ({target.name}) took over {SECONDS_PER_CASE}s:\n{mutated[:2000]}")
            except Exception as err:  # noqa: BLE001 - the point: nothing else may escape
                pytest.fail(f"case {n} ({target.name}) raised {err!r}:\n{mutated[:2000]}")
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
            slowest = max(slowest, time.monotonic() - started)
            shutil.rmtree(root)
    finally:
        signal.signal(signal.SIGALRM, previous)
    assert outcomes["input errors"] >= FUZZ_CASES // 4, outcomes  # most mutations are caught
    print(f"fuzz: {FUZZ_CASES} cases, {outcomes}, slowest {slowest:.2f}s")
