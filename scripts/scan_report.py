#!/usr/bin/env python3
"""Helper of scripts/scan-rendered.sh.

  scan_report.py render OUT [ENV...]   every site's objects to OUT/sites/<env>--<site>.yaml
  scan_report.py report OUT            every scanner finding, minus the accepted ones
                                       (scripts/scan-accepted.yaml, reasons in docs/scanners.md);
                                       exit 1 when one is left
"""

from __future__ import annotations

import collections
import json
import sys
from pathlib import Path

import yaml

ACCEPTED = Path(__file__).with_name("scan-accepted.yaml")


def render(out: Path, names: list[str]) -> None:
    from edgeai import fleet, render as rendering

    (out / "sites").mkdir(parents=True, exist_ok=True)
    for env in fleet.load_fleet(names or None):
        for site in env.sites.values():
            objects = [o for r in rendering.render_site(env, site) for o in r.objects]
            path = out / "sites" / f"{env.name}--{site.name}.yaml"
            path.write_text(yaml.safe_dump_all(objects, sort_keys=False))
            print(f"rendered {path.name}: {len(objects)} objects", file=sys.stderr)


def _checkov(out: Path):
    path = out / "checkov.json"
    if not path.is_file() or not path.read_text().strip():
        return
    data = json.loads(path.read_text())
    for report in data if isinstance(data, list) else [data]:
        for check in (report.get("results") or {}).get("failed_checks") or []:
            yield check["check_id"], f"{Path(check.get('file_path', '')).name}: {check.get('resource')}"


def _kube_score(out: Path):
    for path in sorted(out.glob("kube-score.*.json")):
        if not path.read_text().strip():
            continue
        for obj in json.loads(path.read_text()) or []:
            meta = obj.get("object_meta") or {}
            ref = f"{path.stem.removeprefix('kube-score.')}: {obj.get('type_meta', {}).get('kind')}/" \
                  f"{meta.get('namespace', '')}/{meta.get('name')}"
            for check in obj.get("checks") or []:
                if check.get("grade", 10) < 10 and not check.get("skipped"):  # 1 critical, 5 warning
                    yield check["check"]["id"], ref


def _trivy(out: Path):
    path = out / "trivy.json"
    if not path.is_file() or not path.read_text().strip():
        return
    for result in json.loads(path.read_text()).get("Results") or []:
        for m in result.get("Misconfigurations") or []:
            if m.get("Status") == "FAIL":
                yield m["ID"], f"{Path(result.get('Target', '')).name}: {m.get('CauseMetadata', {}).get('Resource', '')}"


def report(out: Path) -> int:
    accepted = yaml.safe_load(ACCEPTED.read_text()) or {}
    left = 0
    for scanner, findings in (("checkov", _checkov(out)), ("kube-score", _kube_score(out)), ("trivy", _trivy(out))):
        reasons = accepted.get(scanner) or {}
        by_check = collections.Counter()
        examples: dict[str, str] = {}
        for check, where in findings:
            by_check[check] += 1
            examples.setdefault(check, where)
        total = sum(by_check.values())
        open_checks = {c: n for c, n in by_check.items() if c not in reasons}
        print(f"{scanner}: {total} findings in {len(by_check)} checks; accepted {total - sum(open_checks.values())}; "
              f"left {sum(open_checks.values())}")
        for check, n in sorted(by_check.items()):
            mark = "accepted" if check in reasons else "OPEN    "
            print(f"  {mark} {check:<32} {n:>5}  e.g. {examples[check]}")
        left += sum(open_checks.values())
    return 1 if left else 0


if __name__ == "__main__":
    command, out, *rest = sys.argv[1:]
    if command == "render":
        render(Path(out), rest)
    else:
        sys.exit(report(Path(out)))
