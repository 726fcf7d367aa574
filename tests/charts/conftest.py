"""Chart tests render with the real helm binary (installed by scripts/bootstrap-tools.sh)."""

from __future__ import annotations

from typing import Any

import pytest

from edgeai import helm, paths


def render(chart: str, values: dict[str, Any] | None = None, release: str | None = None,
           namespace: str = "edgeai-test") -> list[dict[str, Any]]:
    """Objects `helm template` renders for charts/<chart> with the given values."""
    return helm.template(paths.CHARTS / chart, release or chart, namespace, values or {})


def find(objects: list[dict[str, Any]], kind: str, name: str | None = None) -> list[dict[str, Any]]:
    """Objects of a kind (and name, when given)."""
    return [o for o in objects
            if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]


@pytest.fixture
def helm_render():
    return render
