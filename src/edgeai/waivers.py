"""Waivers: the explicit exceptions to policy rules in environment.yaml (`waivers:`).

Each names a rule, optionally a site and an object (Kind/namespace/name), a reason and an expiry
date. One meaning wherever a rule is judged: the gate (`edgeai.gate`, on what the sites render)
and the Pulumi policy pack (`policies/pulumi`, on what the stacks create) both ask `covering` here.
A waiver covers a violation of its rule on its site (every site, and the environment's training
stack, when it names none) and its object (every object when it names none) until it expires; an
expired waiver covers nothing. Reporting expired or unused waivers is the gate's job: it judges the
environment files as a whole.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass
class Waiver:
    index: int           # position under waivers: (for the file's line)
    rule: str
    reason: str
    expires: dt.date
    site: str | None = None
    object: str | None = None
    used: bool = False   # set when it matched a violation, expired or not

    def covers(self, rule: str, site: str, obj: str) -> bool:
        """Does it name this violation (whatever its expiry)? Site "" is the environment as a whole
        (its environment-scope rules, its training stack): only a waiver naming no site covers it."""
        return rule == self.rule and self.site in (None, site) and self.object in (None, obj)


def of(config: Mapping[str, Any]) -> list[Waiver]:
    """The waivers of an environment's config (already checked against its schema: dates are real)."""
    return [Waiver(i, w["rule"], w["reason"], dt.date.fromisoformat(w["expires"]), w.get("site"), w.get("object"))
            for i, w in enumerate(config.get("waivers") or [])]


def covering(waivers: Iterable[Waiver], rule: str, site: str, obj: str, today: dt.date) -> Waiver | None:
    """The unexpired waiver that covers a violation, or None. Every waiver naming it is marked used."""
    named = [w for w in waivers if w.covers(rule, site, obj)]
    for w in named:
        w.used = True
    return next((w for w in named if w.expires >= today), None)
