"""Helm-style merging of value layers, and finding which file set a value."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from edgeai.yamlfile import YamlFile


def deep_merge(base: dict[str, Any], *overrides: dict[str, Any]) -> dict[str, Any]:
    """Merge like Helm: mappings merge key by key, anything else replaces, null deletes the key."""
    out = copy.deepcopy(base)
    for layer in overrides:
        for key, value in layer.items():
            if value is None:
                out.pop(key, None)
            elif isinstance(value, dict) and isinstance(out.get(key), dict):
                out[key] = deep_merge(out[key], value)
            else:
                out[key] = copy.deepcopy(value)
    return out


def get_path(data: Any, path: Sequence[str | int]) -> tuple[bool, Any]:
    for part in path:
        in_dict = isinstance(data, dict) and part in data
        in_list = isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data)
        if in_dict or in_list:
            data = data[part]
        else:
            return False, None
    return True, data


@dataclass(frozen=True)
class Layer:
    """Values a file contributes, found at `base` inside it (e.g. components.kafka of a site file)."""
    file: YamlFile
    base: tuple[str, ...]

    @property
    def values(self) -> dict[str, Any]:
        return get_path(self.file.data, self.base)[1] or {}

    def sets(self, path: Sequence[str | int]) -> bool:
        return get_path(self.values, path)[0]


def source_of(layers: Sequence[Layer], path: Sequence[str | int]) -> tuple[Layer, tuple] | None:
    """The last layer that sets `path` (or its closest parent), with the full YAML path in its file."""
    for depth in range(len(path), 0, -1):
        for layer in reversed(layers):
            if layer.sets(path[:depth]):
                return layer, layer.base + tuple(path[:depth])
    return None
