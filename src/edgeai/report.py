"""How a validation report is shown: a table for people, Markdown for pull requests, JUnit for CI."""

from __future__ import annotations

import os
import sys
import tempfile
from collections import defaultdict
from pathlib import Path
from xml.etree import ElementTree as ET

from edgeai.gate import Finding, rules_by_id
from edgeai.validate import Report


def _status(f: Finding) -> str:
    return "waived" if f.waived else f.severity


def _summary(r: Report) -> str:
    warnings = sum(1 for f in r.findings if f.severity == "warning" and not f.waived)
    waived = sum(1 for f in r.findings if f.waived)
    unchecked = (f"; not schema-checked (no schema for the kind): "
                 f"{', '.join(f'{n} {kind}' for kind, n in sorted(r.unchecked.items()))}" if r.unchecked else "")
    return (f"{len(r.sites)} site(s), {r.releases} release(s), {r.objects} object(s): "
            f"{len(r.problems)} input error(s), {len(r.errors)} violation(s), {warnings} warning(s), "
            f"{waived} waived{unchecked}")


def table(r: Report) -> str:
    """Findings, worst first, and a summary line (input errors go to stderr, see the CLI)."""
    lines = []
    order = {"error": 0, "warning": 1, "waived": 2}
    rows = sorted(r.findings, key=lambda f: (order[_status(f)], f.environment, f.site, f.rule, f.object))
    if rows:
        where = [f"{f.environment}/{f.site}" if f.site else f.environment for f in rows]
        width = max(map(len, where))
        for f, w in zip(rows, where, strict=True):
            subject = f.object or (f"{f.file}:{f.line}" if f.file else "")
            tail = f"  (waived: {f.waived})" if f.waived else ""
            lines.append(f"{_status(f):<7} {f.rule:<12} {w:<{width}}  {subject}  {f.message}{tail}")
    lines.append(("FAILED: " if r.exit_code else "ok: ") + _summary(r))
    return "\n".join(lines) + "\n"


def markdown(r: Report) -> str:
    """A pull-request comment: verdict, what was checked per site, and each failure with its fix."""
    rules = rules_by_id()
    icon = "❌" if r.exit_code else "✅"
    out = [f"## {icon} edgeai validate", "", _summary(r), ""]
    if r.problems:
        out += ["### Input errors", ""] + [f"- `{p.file.name}:{p.line}` `{p.path and '.'.join(map(str, p.path))}`"
                                           f" — {p.message}" + (f" (fix: {p.fix})" if p.fix else "")
                                           for p in r.problems] + [""]
    if r.changes:   # field by field, sites that change alike grouped (edgeai.gitops.diff)
        from edgeai.gitops import diff as gitops_diff
        out += gitops_diff.markdown(r.changes, "Objects this change alters")
    per_site = defaultdict(lambda: [0, 0])
    for f in r.findings:
        if not f.waived:
            per_site[f"{f.environment}/{f.site}" if f.site else f.environment][f.severity != "error"] += 1
    out += ["<details><summary>Sites checked</summary>", "", "| site | errors | warnings |", "|---|---|---|"]
    out += [f"| {s} | {per_site[s][0]} | {per_site[s][1]} |" for s in r.sites]
    out += ["", "</details>", ""]
    failing = defaultdict(list)
    for f in r.findings:
        if not f.waived:
            failing[f.rule].append(f)
    for rule_id, items in sorted(failing.items(), key=lambda kv: (kv[1][0].severity != "error", kv[0])):
        rule = rules.get(rule_id)
        title = rule.title if rule else rule_id
        out += [f"### {'🚫' if items[0].severity == 'error' else '⚠️'} {rule_id}: {title}", ""]
        if rule:
            out += [f"*Why:* {rule.rationale}  ", f"*Fix:* {rule.remediation}", ""]
        for f in items[:20]:
            where = f"{f.environment}/{f.site}" if f.site else f.environment
            out.append(f"- `{where}` {('`' + f.object + '` ') if f.object else ''}{f.message}")
        if len(items) > 20:
            out.append(f"- … and {len(items) - 20} more")
        out.append("")
    return "\n".join(out) + "\n"


def junit(r: Report) -> str:
    """One test suite per environment, one test case per site (and one for the environment itself)."""
    suites = ET.Element("testsuites", name="edgeai validate")
    by_case: dict[tuple[str, str], list[Finding]] = defaultdict(list)
    for f in r.findings:
        by_case[(f.environment, f.site)].append(f)
    cases = [tuple(s.split("/", 1)) for s in r.sites] + sorted({(f.environment, "") for f in r.findings
                                                                if not f.site})
    for env in sorted({e for e, _ in cases}):
        env_cases = [c for c in cases if c[0] == env]
        failures = sum(1 for c in env_cases if any(f.blocking for f in by_case[c]))
        suite = ET.SubElement(suites, "testsuite", name=env, tests=str(len(env_cases)), failures=str(failures))
        for _, site in env_cases:
            case = ET.SubElement(suite, "testcase", classname=env, name=site or "(environment)")
            blocking = [f for f in by_case[(env, site)] if f.blocking]
            if blocking:
                failure = ET.SubElement(case, "failure", message=f"{len(blocking)} violation(s)")
                failure.text = "\n".join(f"{f.rule} {f.object} {f.message}" for f in blocking)
    for p in r.problems:
        suite = ET.SubElement(suites, "testsuite", name="input", tests="1", failures="1")
        case = ET.SubElement(suite, "testcase", classname="input", name=str(p.file))
        ET.SubElement(case, "failure", message=p.message).text = str(p)
    return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"


def write_atomically(path: Path, text: str) -> None:
    """Write all of it or nothing: a temporary file in the same folder, then a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


class Progress:
    """A one-line progress bar on stderr, only when it is a terminal."""

    def __init__(self, total: int, enabled: bool):
        self.total, self.done, self.enabled = total, 0, enabled and total > 1

    def __enter__(self) -> Progress:
        return self

    def step(self, label: str) -> None:
        self.done += 1
        if self.enabled:
            filled = int(30 * self.done / self.total)
            sys.stderr.write(f"\r[{'#' * filled}{'.' * (30 - filled)}] {self.done}/{self.total} {label[:40]:<40}")
            sys.stderr.flush()

    def __exit__(self, *exc) -> None:
        if self.enabled:
            sys.stderr.write("\n")
