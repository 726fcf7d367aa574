"""Where a cluster's state lives: ~/.cache/edgeai/clusters/<name>/ (cluster.json, kubeconfig, pki/, logs/, ...)."""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from edgeai import paths


def clusters_root() -> Path:
    return paths.CACHE / "clusters"


@dataclass
class ClusterInfo:
    name: str
    provider: str           # "local" or "kind"
    environment: str
    site: str
    server: str = ""        # https://127.0.0.1:<port>
    ports: dict[str, int] = field(default_factory=dict)

    @property
    def dir(self) -> Path:
        return clusters_root() / self.name

    @property
    def kubeconfig(self) -> Path:
        return self.dir / "kubeconfig"

    @property
    def file(self) -> Path:
        return self.dir / "cluster.json"

    def save(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        tmp = self.file.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2) + "\n")
        tmp.replace(self.file)

    @staticmethod
    def load(name: str) -> ClusterInfo | None:
        try:
            data = json.loads((clusters_root() / name / "cluster.json").read_text())
        except (OSError, ValueError):
            return None
        return ClusterInfo(**data)


def known_clusters() -> list[ClusterInfo]:
    root = clusters_root()
    found = (ClusterInfo.load(d.name) for d in sorted(root.iterdir()) if d.is_dir()) if root.is_dir() else ()
    return [c for c in found if c is not None]


def private_values(file: Path, keys: list[str]) -> dict[str, str]:
    """Random values for `keys`, generated once and kept in `file` (mode 0600, never printed)."""
    values: dict[str, Any] = {}
    if file.is_file():
        values = json.loads(file.read_text())
    missing = [k for k in keys if k not in values]
    if missing:
        values.update({k: secrets.token_urlsafe(24) for k in missing})
        file.parent.mkdir(parents=True, exist_ok=True)
        tmp = file.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump(values, out)
        tmp.replace(file)
    file.chmod(0o600)
    return {k: values[k] for k in keys}
