#!/usr/bin/env python3
"""Copy the shared $defs (charts/edgeai-common/values.defs.json) into every component chart's
values.schema.json. Helm cannot follow a $ref into another file, so each chart embeds a copy;
`--check` (run by the tests) fails when a copy has drifted from the source."""

from __future__ import annotations

import json
import sys
from pathlib import Path

CHARTS = Path(__file__).resolve().parent.parent / "charts"
DEFS = CHARTS / "edgeai-common" / "values.defs.json"


# Helm adds each dependency's values under its name, so a strict root schema must allow
# the library chart's key (it carries no values of its own).
LIBRARY_KEY = {"edgeai-common": {"type": "object", "description": "Values of the edgeai-common library chart (none)."}}


def synced(schema: dict, defs: dict) -> dict:
    merged = dict(schema)
    merged["$defs"] = {**schema.get("$defs", {}), **defs}
    merged["properties"] = {**schema.get("properties", {}), **LIBRARY_KEY}
    return merged


def main(argv: list[str]) -> int:
    check = "--check" in argv
    defs = {k: v for k, v in json.loads(DEFS.read_text()).items() if not k.startswith("$")}
    drifted = []
    for path in sorted(CHARTS.glob("*/values.schema.json")):
        current = json.loads(path.read_text())
        wanted = synced(current, defs)
        if wanted != current:
            drifted.append(path)
            if not check:
                tmp = path.with_suffix(".json.tmp")
                tmp.write_text(json.dumps(wanted, indent=2) + "\n")
                tmp.replace(path)
    for path in drifted:
        print(f"{'out of date' if check else 'updated'}: {path.relative_to(CHARTS.parent)}")
    if check and drifted:
        print("run: python3 scripts/sync-chart-schemas.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
