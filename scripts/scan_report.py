#!/usr/bin/env python3
"""Helper of scripts/scan-rendered.sh.

  scan_report.py render OUT [ENV...]   every site's objects to OUT/sites/<env>--<site>.yaml, and one
                                       file per object under OUT/objects/<env>--<site>/ (for trivy)
  scan_report.py report OUT            every scanner finding, minus the accepted ones
                                       (scripts/scan-accepted.yaml, reasons in docs/scanners.md;
                                       a check accepted everywhere, or on the objects named);
                                       exit 1 when one is left
"""

from __future__ import annotations

import collections
import fnmatch
import json
import sys
from pathlib import Path

import yaml

ACCEPTED = Path(__file__).with_name("scan-accepted.yaml")


def render(out: Path, names: list[str]) -> None:
    from edgeai import fleet
    from edgeai import render as rendering

    (out / "sites").mkdir(parents=True, exist_ok=True)
    for env in fleet.load_fleet(names or None):
        for site in env.sites.values():
            objects = [o for r in rendering.render_site(env, site) for o in r.objects]
            path = out / "sites" / f"{env.name}--{site.name}.yaml"
            path.write_text(yaml.safe_dump_all(objects, sort_keys=False))
            one_each = out / "objects" / path.stem
            one_each.mkdir(parents=True, exist_ok=True)
            for obj in objects:
                meta = obj.get("metadata") or {}
                name = f"{obj.get('kind')}--{meta.get('namespace', '')}--{meta.get('name')}.yaml"
                (one_each / name).write_text(yaml.safe_dump(obj, sort_keys=False))
            print(f"rendered {path.name}: {len(objects)} objects", file=sys.stderr)


class ScannerFailed(Exception):
    """A scanner that judged nothing is not a clean scan."""


def _output(path: Path):
    if not path.is_file() or not path.read_text().strip():
        raise ScannerFailed(f"{path.name} is missing or empty (see {path.with_suffix('.err').name})")
    return json.loads(path.read_text())


def _checkov(out: Path):
    data = _output(out / "checkov.json")
    reports = data if isinstance(data, list) else [data]
    if not any((r.get("summary") or r).get("resource_count") for r in reports):
        raise ScannerFailed("checkov judged no resource (see checkov.err)")
    for report in reports:
        for check in (report.get("results") or {}).get("failed_checks") or []:
            yield check["check_id"], f"{Path(check.get('file_path', '')).name}: {check.get('resource')}"


def _kube_score(out: Path):
    paths = sorted(out.glob("kube-score.*.json"))
    if len(paths) != len(list((out / "sites").glob("*.yaml"))):
        raise ScannerFailed("kube-score did not score every site (see kube-score.err)")
    for path in paths:
        for obj in _output(path) or []:
            meta = obj.get("object_meta") or {}
            ref = f"{path.stem.removeprefix('kube-score.')}.yaml: {obj.get('type_meta', {}).get('kind')}/" \
                  f"{meta.get('namespace', '')}/{meta.get('name')}"
            for check in obj.get("checks") or []:
                if check.get("grade", 10) < 10 and not check.get("skipped"):  # 1 critical, 5 warning
                    yield check["check"]["id"], ref


def _trivy(out: Path):
    """trivy names no object inside a multi-document file, so it scans OUT/objects/<site>/, one
    file per object named Kind--namespace--name.yaml."""
    for result in _output(out / "trivy.json").get("Results") or []:
        target = Path(result.get("Target", ""))
        kind, namespace, name = target.stem.split("--", 2) if target.stem.count("--") >= 2 else ("", "", target.stem)
        where = f"{target.parent.name}.yaml: {kind}/{namespace}/{name}"
        for m in result.get("Misconfigurations") or []:
            if m.get("Status") == "FAIL":
                yield m["ID"], where


def is_accepted(entry, where: str) -> bool:
    """An accepted entry is a reason (the whole check) or {reason, objects: [patterns]}: only findings
    whose place ("<env>--<site>.yaml: Kind/namespace/name", fnmatch patterns) matches one."""
    if entry is None:
        return False
    if isinstance(entry, str):
        return True
    return any(fnmatch.fnmatchcase(where, pattern) for pattern in entry.get("objects") or ["*"])


def report(out: Path) -> int:
    accepted = yaml.safe_load(ACCEPTED.read_text()) or {}
    left = 0
    for scanner, findings in (("checkov", _checkov(out)), ("kube-score", _kube_score(out)), ("trivy", _trivy(out))):
        reasons = accepted.get(scanner) or {}
        by_check: collections.Counter[tuple[str, bool]] = collections.Counter()
        examples: dict[tuple[str, bool], str] = {}
        try:
            listed = list(findings)
        except ScannerFailed as err:
            print(f"{scanner}: FAILED: {err}")
            left += 1
            continue
        for check, where in listed:
            key = (check, is_accepted(reasons.get(check), where))
            by_check[key] += 1
            examples.setdefault(key, where)
        total = sum(by_check.values())
        still_open = sum(n for (_, ok), n in by_check.items() if not ok)
        checks = {check for check, _ in by_check}
        print(f"{scanner}: {total} findings in {len(checks)} checks; accepted {total - still_open}; left {still_open}")
        for (check, ok), n in sorted(by_check.items()):
            mark = "accepted" if ok else "OPEN    "
            print(f"  {mark} {check:<40} {n:>5}  e.g. {examples[(check, ok)]}")
        left += still_open
    return 1 if left else 0


if __name__ == "__main__":
    command, out, *rest = sys.argv[1:]
    if command == "render":
        render(Path(out), rest)
    else:
        sys.exit(report(Path(out)))
