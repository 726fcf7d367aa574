"""Engine tests run the real edgeai-engine (built by scripts/build-engine.sh) and the real helm."""

from __future__ import annotations

import subprocess

import pytest

from edgeai import paths, tools
from edgeai.engine import Engine


def engine_binary() -> str:
    """The engine for the current sources; built here when the cache lacks it (once, minutes)."""
    try:
        return tools.engine_path()
    except tools.ToolMissing:
        subprocess.run(["bash", str(paths.ROOT / tools.ENGINE_BUILD_SCRIPT)], check=True,
                       stdout=subprocess.DEVNULL)
        return tools.engine_path()


@pytest.fixture(scope="session")
def engine_bin() -> str:
    return engine_binary()


@pytest.fixture(scope="session")
def engine(engine_bin: str):
    with Engine(engine_bin) as e:
        yield e
