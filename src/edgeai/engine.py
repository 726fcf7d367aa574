"""edgeai-engine: helm's own rendering and kubeconform's validation in one long-lived process.

Spawning `helm template` costs ~110 ms a release; the gate renders thousands. The engine
(tools/engine, built by scripts/build-engine.sh) links helm's library at the pinned version, loads
each chart once, compiles each Kubernetes schema once, and serves requests as JSON lines on a pipe.
Its objects are exactly `helm template`'s (edgeai.helm.template), before namespace placement.

    with Engine() as engine:
        for result in engine.render_many(requests):   # in request order
            result.objects, result.error, result.schema
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from edgeai import tools


class EngineError(RuntimeError):
    """The engine process failed (not a chart: chart and values errors come back in RenderResult.error)."""


# The Kubernetes schemas, offline: the kubernetes-validate package ships one folder per minor
# version (v1.25.0 ... v1.37.0), `<kind>-<group>-<version>.json` plus a shared _definitions.json.
SCHEMA_PACKAGE = "kubernetes_validate"
SCHEMA_LOCATION = ("{root}/{{{{ .NormalizedKubernetesVersion }}}}-local{{{{ .StrictSuffix }}}}/"
                   "{{{{ .ResourceKind }}}}{{{{ .KindSuffix }}}}.json")


def kubernetes_schema_dir() -> Path:
    try:
        root = resources.files(SCHEMA_PACKAGE) / "kubernetes-json-schema"
    except ModuleNotFoundError as e:
        raise tools.ToolMissing(
            "the Kubernetes schemas are missing: pip install 'kubernetes-validate==1.37.0'") from e
    return Path(str(root))


def default_schema_locations() -> list[str]:
    return [SCHEMA_LOCATION.format(root=kubernetes_schema_dir())]


@dataclass(frozen=True)
class RenderRequest:
    """`helm template <release> <chart> --namespace <namespace> --kube-version <v> --values -`."""

    chart: Path  # a chart directory whose dependencies are vendored (edgeai.helm.build_dependencies)
    release: str
    namespace: str
    values: dict[str, Any] = field(default_factory=dict)
    kube_version: str | None = None  # also selects the schemas (1.34.4 -> v1.34.0)
    validate: bool = True


@dataclass(frozen=True)
class FieldError:
    path: str  # JSON pointer into the object, e.g. /spec/replicas ("" for the whole object)
    message: str


@dataclass(frozen=True)
class SchemaFinding:
    index: int  # into RenderResult.objects
    status: str  # valid | invalid | skipped (no schema: a custom resource) | error
    errors: tuple[FieldError, ...] = ()


@dataclass(frozen=True)
class RenderResult:
    request: RenderRequest
    objects: list[dict[str, Any]]  # in `helm template` order, hooks included, empty documents dropped
    error: str | None  # helm's own message ("Error: ..."), as edgeai.helm.HelmError carries it
    schema: tuple[SchemaFinding, ...]  # one per object when the request asked for validation

    @property
    def ok(self) -> bool:
        return self.error is None and all(f.status in ("valid", "skipped") for f in self.schema)

    def findings(self, *statuses: str) -> list[SchemaFinding]:
        return [f for f in self.schema if f.status in statuses]


def _decode(request: RenderRequest, data: dict[str, Any]) -> RenderResult:
    schema = tuple(
        SchemaFinding(f["index"], f["status"],
                      tuple(FieldError(e["path"], e["message"]) for e in f.get("errors") or ()))
        for f in data.get("schema") or ())
    error = data.get("error")
    return RenderResult(request, data.get("objects") or [], error.strip() if error else None, schema)


class Engine:
    """A running edgeai-engine. Use as a context manager; one render_many at a time."""

    def __init__(self, binary: str | None = None, *, workers: int | None = None, strict: bool = True,
                 schema_locations: list[str] | None = None) -> None:
        self.binary = binary or tools.engine_path()
        self.workers = workers
        self.strict = strict
        self.schema_locations = schema_locations if schema_locations is not None else default_schema_locations()
        self._proc: subprocess.Popen[bytes] | None = None
        self._stderr: Any = None
        self._lock = threading.Lock()

    def __enter__(self) -> Engine:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> None:
        args = [self.binary]
        for loc in self.schema_locations:
            args += ["--schema-location", loc]
        if self.workers:
            args += ["--workers", str(self.workers)]
        if self.strict:
            args.append("--strict")
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the process
        self._proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      stderr=self._stderr, bufsize=1 << 20)

    def close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        try:
            if proc.stdin:
                proc.stdin.close()
        except OSError:
            pass
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout:
            proc.stdout.close()
        if self._stderr:
            self._stderr.close()
            self._stderr = None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def stderr_tail(self, limit: int = 4000) -> str:
        if not self._stderr:
            return ""
        self._stderr.seek(0, os.SEEK_END)
        size = self._stderr.tell()
        self._stderr.seek(max(0, size - limit))
        return self._stderr.read().decode(errors="replace").strip()

    def render(self, request: RenderRequest) -> RenderResult:
        [result] = self.render_many([request])
        return result

    def render_many(self, requests: Iterable[RenderRequest]) -> Iterator[RenderResult]:
        """Results in the order of `requests`. Requests are written on a thread of their own while
        results are read here, so neither pipe can fill up and block the other; the engine holds only
        a few requests per worker, so memory stays flat however many are streamed.
        One stream at a time: finish (or close) one before starting the next."""
        if not self._lock.acquire(blocking=False):
            raise EngineError("render_many is already streaming on this engine; finish or close it first")
        try:
            yield from self._render_many(requests)
        finally:
            self._lock.release()

    def _render_many(self, requests: Iterable[RenderRequest]) -> Iterator[RenderResult]:
        proc = self._proc
        if proc is None or proc.stdin is None or proc.stdout is None:
            raise EngineError("the engine is not running (use `with Engine() as engine:`)")
        stdin, stdout = proc.stdin, proc.stdout
        sent: dict[int, RenderRequest] = {}  # written, not yet yielded
        state = {"written": 0, "done": False}
        failure: list[BaseException] = []
        stop = threading.Event()
        lock = threading.Lock()

        def write() -> None:
            try:
                for index, req in enumerate(requests):
                    if stop.is_set():
                        break
                    line = json.dumps({
                        "id": str(index), "chart": str(req.chart), "release": req.release,
                        "namespace": req.namespace, "kubeVersion": req.kube_version or "",
                        "values": req.values, "validate": req.validate,
                    }, default=str, separators=(",", ":")).encode() + b"\n"
                    with lock:
                        sent[index] = req
                        state["written"] += 1
                    stdin.write(line)
                    stdin.flush()  # the engine starts on it now, not when a buffer fills
            except BaseException as e:  # noqa: BLE001 - raised by the reader
                failure.append(e)
            finally:
                with lock:
                    state["done"] = True

        def read_one() -> dict[str, Any]:
            line = stdout.readline()
            if not line:
                proc.poll()
                raise EngineError(f"the engine exited (code {proc.returncode}) before answering every "
                                  f"request:\n{self.stderr_tail()}")
            data = json.loads(line)
            if not str(data.get("id", "")).isdigit():
                raise EngineError(f"the engine answered a request it was not sent: {line[:500]!r}")
            return data

        writer = threading.Thread(target=write, name="edgeai-engine-writer", daemon=True)
        writer.start()
        pending: dict[int, dict[str, Any]] = {}  # answered out of order, waiting for their turn
        received = 0
        finished = False
        try:
            next_index = 0
            while True:
                if next_index in pending:
                    with lock:
                        req = sent.pop(next_index)
                    yield _decode(req, pending.pop(next_index))
                    next_index += 1
                    continue
                with lock:
                    written, done = state["written"], state["done"]
                if failure:
                    raise EngineError(f"writing to the engine failed: {failure[0]!r}\n"
                                      f"{self.stderr_tail()}") from failure[0]
                if done and received >= written:
                    finished = True
                    return
                if received >= written:  # everything written is answered: wait for the writer
                    writer.join(0.01)
                    continue
                data = read_one()
                pending[int(data["id"])] = data
                received += 1
        finally:
            if not finished:
                # Abandoned midway (or failed): stop writing and read what the engine still owes, so
                # neither side stays blocked on a full pipe and the next render_many starts clean.
                stop.set()
                try:
                    while True:
                        with lock:
                            written, done = state["written"], state["done"]
                        if received < written:
                            read_one()
                            received += 1
                        elif done:
                            break
                        else:
                            writer.join(0.01)
                except (EngineError, OSError, ValueError):
                    pass
