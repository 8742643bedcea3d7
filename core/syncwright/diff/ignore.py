"""``ignoreDifferences``: JSON pointers, jq path expressions and managed-fields managers.

Rules come from the Application (``spec.ignoreDifferences``) and from
system-wide settings; each names a group/kind (``*`` allowed) and optionally
a name and namespace. jq expressions are compiled when the rules are built,
so a bad expression is a configuration error naming the app, not a failure
in the middle of a comparison; evaluation runs with a time budget
(Argo CD's ``ARGOCD_IGNORE_NORMALIZER_JQ_TIMEOUT``, 1 s).
"""

from __future__ import annotations

import concurrent.futures
import copy
import fnmatch
import os
from dataclasses import dataclass, field
from typing import Any

from ..errors import SpecError
from ..manifests import group_of
from ..model import IgnoreDifference
from .merge import Owned, item_key, list_key_fields, owned_by_managers

JQ_TIMEOUT = float(os.environ.get("SYNCWRIGHT_JQ_TIMEOUT", "1"))
_POOL: concurrent.futures.ThreadPoolExecutor | None = None


def _unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def parse_pointer(pointer: str) -> tuple[str, ...]:
    """An RFC 6901 JSON pointer as path tokens; raises ValueError when malformed."""
    if pointer == "":
        return ()
    if not pointer.startswith("/"):
        raise ValueError(f"JSON pointer {pointer!r} must start with '/'")
    return tuple(_unescape(t) for t in pointer[1:].split("/"))


def remove_path(obj: Any, path: tuple[str, ...]) -> None:
    """Delete ``path`` from ``obj`` in place, if present."""
    if not path:
        return
    cur = obj
    for token in path[:-1]:
        if isinstance(cur, dict):
            cur = cur.get(token)
        elif isinstance(cur, list) and token.isdigit() and int(token) < len(cur):
            cur = cur[int(token)]
        else:
            return
    last = path[-1]
    if isinstance(cur, dict):
        cur.pop(last, None)
    elif isinstance(cur, list) and last.isdigit() and int(last) < len(cur):
        del cur[int(last)]


def remove_owned(obj: Any, owned: Owned) -> None:
    """Delete from ``obj`` every field in the FieldsV1 tree ``owned`` (list items by key too)."""
    if not isinstance(obj, dict):
        return
    for key, sub in owned.items():
        if not key.startswith("f:"):
            continue
        name = key[2:]
        if name not in obj:
            continue
        value = obj[name]
        if sub and isinstance(value, dict):
            remove_owned(value, sub)
        elif sub and isinstance(value, list) and any(k.startswith("k:") for k in sub):
            obj[name] = _remove_owned_items(value, sub, name)
        elif not sub or not isinstance(value, (dict, list)):
            del obj[name]


def _remove_owned_items(items: list[Any], owned: Owned, field_name: str) -> list[Any]:
    """Items of an associative list minus what ``owned`` names: whole items, or fields in them."""
    keys = list_key_fields(field_name, items)
    if not keys:
        return items
    out = []
    for item in items:
        sub = owned.get(item_key(item, keys)) if isinstance(item, dict) else None
        if sub is None:
            out.append(item)
        elif set(sub) <= {"."}:
            continue  # the manager owns the item itself and nothing finer: it is theirs
        else:
            remove_owned(item, sub)
            out.append(item)
    return out


@dataclass(frozen=True)
class IgnoreRule:
    group: str
    kind: str
    name: str = ""
    namespace: str = ""
    pointers: tuple[tuple[str, ...], ...] = ()
    jq: tuple[Any, ...] = ()
    managers: tuple[str, ...] = ()
    jq_source: tuple[str, ...] = field(default=())

    def matches(self, obj: dict[str, Any]) -> bool:
        meta = obj.get("metadata") or {}
        return (
            fnmatch.fnmatchcase(group_of(str(obj.get("apiVersion", ""))), self.group or "")
            and fnmatch.fnmatchcase(str(obj.get("kind", "")), self.kind)
            and (not self.name or self.name == meta.get("name"))
            and (not self.namespace or self.namespace == meta.get("namespace"))
        )


def compile_rules(specs: tuple[IgnoreDifference, ...], context: str) -> tuple[IgnoreRule, ...]:
    """Validate and compile rules; errors name ``context`` (the app) and the bad entry."""
    rules = []
    for i, spec in enumerate(specs):
        where = f"{context}: ignoreDifferences[{i}]"
        try:
            pointers = tuple(parse_pointer(p) for p in spec.json_pointers)
        except ValueError as e:
            raise SpecError(str(e), context=where) from None
        programs = []
        if spec.jq_path_expressions:
            import jq

            for expr in spec.jq_path_expressions:
                try:
                    programs.append(jq.compile(f"del({expr})"))
                except ValueError as e:
                    raise SpecError(f"invalid jq path expression {expr!r}: {e}", context=where) from None
        rules.append(IgnoreRule(spec.group, spec.kind, spec.name, spec.namespace, pointers, tuple(programs),
                                tuple(spec.managed_fields_managers), tuple(spec.jq_path_expressions)))
    return tuple(rules)


def _run_jq(program: Any, obj: Any, expr: str) -> Any:
    global _POOL
    if _POOL is None:
        _POOL = concurrent.futures.ThreadPoolExecutor(max_workers=2, thread_name_prefix="sw-jq")
    future = _POOL.submit(lambda: program.input_value(obj).first())
    try:
        return future.result(timeout=JQ_TIMEOUT)
    except concurrent.futures.TimeoutError:
        raise SpecError(f"jq path expression {expr!r} took longer than {JQ_TIMEOUT:g}s") from None
    except ValueError as e:
        raise SpecError(f"jq path expression {expr!r} failed: {e}") from None


def apply_rules(rules: tuple[IgnoreRule, ...], live: dict[str, Any] | None, *objs: dict[str, Any] | None
                ) -> list[dict[str, Any] | None]:
    """Copies of ``objs`` with every ignored field removed (rules matched on each object)."""
    out: list[dict[str, Any] | None] = []
    for obj in objs:
        if obj is None:
            out.append(None)
            continue
        matching = [r for r in rules if r.matches(obj)]
        if not matching:
            out.append(obj)
            continue
        result: Any = copy.deepcopy(obj)
        for rule in matching:
            for pointer in rule.pointers:
                remove_path(result, pointer)
            for program, expr in zip(rule.jq, rule.jq_source):
                result = _run_jq(program, result, expr)
            if rule.managers and live is not None:
                remove_owned(result, owned_by_managers(live, rule.managers))
        out.append(result)
    return out
