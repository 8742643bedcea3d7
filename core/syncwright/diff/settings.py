"""System-wide ignoreDifferences from argocd-cm-style settings (``SYNCWRIGHT_SETTINGS``).

Argo CD's keys: ``resource.customizations.ignoreDifferences.<group>_<kind>``
(``<kind>`` alone for the core group, ``all`` for every kind), whose value is
YAML with ``jsonPointers``, ``jqPathExpressions`` and ``managedFieldsManagers``;
and the ``resource.customizations`` block keyed by ``<group>/<kind>`` globs
with an ``ignoreDifferences`` entry of the same YAML.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml

from ..errors import SpecError
from ..model import IgnoreDifference
from ..settings import from_env
from .ignore import IgnoreRule, compile_rules

PREFIX = "resource.customizations.ignoreDifferences."


def _entry(group: str, kind: str, text: Any, where: str) -> IgnoreDifference:
    try:
        body = yaml.safe_load(text) if isinstance(text, str) else text
    except yaml.YAMLError as e:
        raise SpecError(f"invalid YAML: {e}", context=where) from None
    body = body or {}
    if not isinstance(body, Mapping):
        raise SpecError("expected a mapping with jsonPointers/jqPathExpressions/managedFieldsManagers", context=where)
    unknown = set(body) - {"jsonPointers", "jqPathExpressions", "managedFieldsManagers"}
    if unknown:
        raise SpecError(f"unknown field(s) {', '.join(sorted(unknown))}", context=where)

    def strings(name: str) -> tuple[str, ...]:
        value = body.get(name) or []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise SpecError(f"{name} must be a list of strings", context=where)
        return tuple(value)

    return IgnoreDifference(group=group, kind=kind, json_pointers=strings("jsonPointers"),
                            jq_path_expressions=strings("jqPathExpressions"),
                            managed_fields_managers=strings("managedFieldsManagers"))


def rules_from_settings(data: Mapping[str, Any], source: str) -> tuple[IgnoreRule, ...]:
    """Compile every system-wide ignoreDifferences entry of an argocd-cm ``data`` mapping."""
    specs: list[IgnoreDifference] = []
    for key, value in data.items():
        if not key.startswith(PREFIX):
            continue
        suffix = key[len(PREFIX):]
        if suffix == "all":
            group, kind = "*", "*"
        else:
            group, _, kind = suffix.rpartition("_")
        specs.append(_entry(group, kind, value, f"{source}: {key}"))
    block = data.get("resource.customizations")
    if block:
        try:
            parsed = yaml.safe_load(block) if isinstance(block, str) else block
        except yaml.YAMLError as e:
            raise SpecError(f"resource.customizations: invalid YAML: {e}", context=source) from None
        for gk, entry in (parsed or {}).items():
            if isinstance(entry, Mapping) and "ignoreDifferences" in entry:
                group, _, kind = str(gk).rpartition("/")
                specs.append(_entry(group, kind, entry["ignoreDifferences"],
                                    f"{source}: resource.customizations[{gk}]"))
    return compile_rules(tuple(specs), f"settings {source}")


def system_rules() -> tuple[IgnoreRule, ...]:
    """The system-wide rules of ``SYNCWRIGHT_SETTINGS`` (none when it is unset)."""
    found = from_env()
    return rules_from_settings(*found) if found else ()
