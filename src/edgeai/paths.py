"""Every directory the project reads, named once."""

from __future__ import annotations

import os
from pathlib import Path


def _find_root() -> Path:
    """The repository root: $EDGEAI_ROOT, else the nearest parent holding Pulumi.yaml and charts/."""
    if env := os.environ.get("EDGEAI_ROOT"):
        return Path(env).resolve()
    for start in (Path.cwd(), Path(__file__).resolve()):
        for candidate in (start, *start.parents):
            if (candidate / "Pulumi.yaml").is_file() and (candidate / "charts").is_dir():
                return candidate
    raise RuntimeError(
        "cannot find the edgeai repository root (a folder with Pulumi.yaml and charts/); "
        "run from inside the repository or set EDGEAI_ROOT"
    )


ROOT = _find_root()
CHARTS = ROOT / "charts"
ENVIRONMENTS = ROOT / "environments"
SCHEMAS = ENVIRONMENTS / "schema"
TOOL_VERSIONS = ROOT / "scripts" / "tool-versions.env"
BOOTSTRAP_SCRIPT = "scripts/bootstrap-tools.sh"
CACHE = Path(os.environ.get("EDGEAI_CACHE", Path.home() / ".cache" / "edgeai"))
