"""Name, label and annotation validation with kube-apiserver's wording (422 Invalid)."""

from __future__ import annotations

import re
from typing import Any

from .errors import invalid
from .registry import ResourceType

_DNS1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_QUALIFIED = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
_LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")

LABEL_MSG = ("a DNS-1123 label must consist of lower case alphanumeric characters or '-', and "
             "must start and end with an alphanumeric character (e.g. 'my-name',  or "
             "'123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')")
SUBDOMAIN_MSG = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
                 "characters, '-' or '.', and must start and end with an alphanumeric character "
                 "(e.g. 'example.com', regex used for validation is "
                 "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")
QUALIFIED_MSG = ("name part must consist of alphanumeric characters, '-', '_' or '.', and must "
                 "start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  "
                 "or '123-abc', regex used for validation is "
                 "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')")
VALUE_MSG = ("a valid label must be an empty string or consist of alphanumeric characters, '-', "
             "'_' or '.', and must start and end with an alphanumeric character (e.g. "
             "'MyValue',  or 'my_value',  or '12345', regex used for validation is "
             "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')")

# Kinds whose names must be DNS-1123 labels (no dots, <= 63 chars).
_LABEL_NAMED = {"Namespace", "Service"}
# Kinds whose names are only "path segment" names (RBAC allows ':' and uppercase).
_PATH_NAMED = {"Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding"}
MAX_ANNOTATIONS = 256 * 1024


def name_problem(rt: ResourceType, name: str) -> str | None:
    """Why `name` is not a valid name for this kind, or None."""
    if rt.kind in _PATH_NAMED:
        if name in (".", ".."):
            return f'may not be \'{name}\''
        for bad in ("/", "%"):
            if bad in name:
                return f"may not contain '{bad}'"
        return None
    if rt.kind in _LABEL_NAMED:
        if len(name) > 63:
            return "must be no more than 63 characters"
        if not _DNS1123_LABEL.fullmatch(name):
            return LABEL_MSG
        return None
    if len(name) > 253:
        return "must be no more than 253 characters"
    if not _DNS1123_SUBDOMAIN.fullmatch(name):
        return SUBDOMAIN_MSG
    return None


def _key_problems(key: str) -> list[str]:
    prefix, slash, name = key.rpartition("/")
    out = []
    if slash:
        if not prefix or len(prefix) > 253 or not _DNS1123_SUBDOMAIN.fullmatch(prefix):
            out.append("prefix part " + SUBDOMAIN_MSG)
    if not name:
        out.append("name part must be non-empty")
    elif len(name) > 63:
        out.append("name part must be no more than 63 characters")
    elif not _QUALIFIED.fullmatch(name):
        out.append(QUALIFIED_MSG)
    return out


def validate_meta(rt: ResourceType, obj: dict[str, Any]) -> None:
    """Raise 422 for a bad name, label key/value or oversized annotations."""
    meta = obj.get("metadata") or {}
    name = meta.get("name") or ""
    problems: list[tuple[str, str | None, str]] = []
    if not name:
        problems.append(("metadata.name", None, "Required value: name or generateName is "
                                                "required"))
    else:
        why = name_problem(rt, name)
        if why:
            problems.append(("metadata.name", name, why))
    labels = meta.get("labels") or {}
    if not isinstance(labels, dict):
        problems.append(("metadata.labels", str(labels), "must be a map of strings"))
        labels = {}
    for k, v in labels.items():
        for p in _key_problems(str(k)):
            problems.append(("metadata.labels", str(k), p))
        if not isinstance(v, str):
            problems.append((f"metadata.labels", str(v), "label values must be strings"))
        elif len(v) > 63:
            problems.append(("metadata.labels", v, "must be no more than 63 characters"))
        elif not _LABEL_VALUE.fullmatch(v):
            problems.append(("metadata.labels", v, VALUE_MSG))
    annotations = meta.get("annotations") or {}
    if isinstance(annotations, dict):
        for k in annotations:
            for p in _key_problems(str(k)):
                problems.append(("metadata.annotations", str(k), p))
        size = sum(len(str(k)) + len(str(v)) for k, v in annotations.items())
        if size > MAX_ANNOTATIONS:
            problems.append(("metadata.annotations", None,
                             f"Too long: must have at most {MAX_ANNOTATIONS} bytes"))
    if problems:
        raise invalid(rt.kind, rt.group, name or meta.get("generateName", ""), problems)
