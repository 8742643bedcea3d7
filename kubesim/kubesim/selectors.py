"""Label and field selectors, parsed once per request and matched per object."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable

from .errors import ApiError, bad_request

_TOKEN = re.compile(r"\s*(!=|==|=|!|\(|\)|,|[^\s!=(),]+)")


@dataclass(frozen=True)
class Requirement:
    key: str
    op: str                 # "in", "notin", "exists", "!"
    values: frozenset[str] = frozenset()

    def matches(self, labels: dict[str, str]) -> bool:
        if self.op == "exists":
            return self.key in labels
        if self.op == "!":
            return self.key not in labels
        if self.op == "in":
            return self.key in labels and labels[self.key] in self.values
        # notin / != : also true when the key is absent, as in Kubernetes.
        return self.key not in labels or labels[self.key] not in self.values


Matcher = Callable[[dict[str, Any]], bool]


def parse_label_selector(text: str) -> list[Requirement]:
    """Parse `a=b,c!=d,e in (f,g),h notin (i),j,!k`; raises 400 on bad syntax."""
    text = text.strip()
    if not text:
        return []
    toks = _TOKEN.findall(text)
    reqs: list[Requirement] = []
    i = 0

    def err() -> ApiError:
        return bad_request(f'unable to parse requirement: found invalid label selector "{text}"')

    while i < len(toks):
        t = toks[i]
        if t == "!":
            if i + 1 >= len(toks):
                raise err()
            reqs.append(Requirement(toks[i + 1], "!"))
            i += 2
        else:
            key = t
            if key in ("(", ")", ",", "=", "==", "!="):
                raise err()
            nxt = toks[i + 1] if i + 1 < len(toks) else ","
            if nxt == ",":
                reqs.append(Requirement(key, "exists"))
                i += 1
            elif nxt in ("=", "==", "!="):
                if i + 2 >= len(toks):
                    val = ""
                    i += 2
                else:
                    val = toks[i + 2]
                    if val == ",":
                        val = ""
                        i += 2
                    else:
                        i += 3
                reqs.append(Requirement(key, "in" if nxt != "!=" else "notin",
                                        frozenset([val])))
            elif nxt in ("in", "notin"):
                if i + 2 >= len(toks) or toks[i + 2] != "(":
                    raise err()
                j = i + 3
                vals: list[str] = []
                while j < len(toks) and toks[j] != ")":
                    if toks[j] != ",":
                        vals.append(toks[j])
                    j += 1
                if j >= len(toks):
                    raise err()
                reqs.append(Requirement(key, nxt, frozenset(vals)))
                i = j + 1
            else:
                raise err()
        if i < len(toks):
            if toks[i] != ",":
                raise err()
            i += 1
    return reqs


def parse_field_selector(text: str, kind: str) -> list[tuple[str, bool, str]]:
    """Parse `metadata.name=x,metadata.namespace!=y` into (field, equal?, value)."""
    out: list[tuple[str, bool, str]] = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        m = re.fullmatch(r"([^=!]+?)\s*(==|=|!=)\s*(.*)", part)
        if not m:
            raise bad_request(f'invalid selector: \'{text}\'; can\'t understand \'{part}\'')
        fld = m.group(1)
        if fld not in _FIELDS and fld not in _KIND_FIELDS.get(kind, ()):
            raise bad_request(f'field label not supported: {fld}')
        out.append((fld, m.group(2) != "!=", m.group(3)))
    return out


_FIELDS = ("metadata.name", "metadata.namespace")
_KIND_FIELDS: dict[str, tuple[str, ...]] = {
    "Pod": ("spec.nodeName", "status.phase", "spec.restartPolicy", "spec.serviceAccountName",
            "status.podIP"),
    "Secret": ("type",),
    "Event": ("involvedObject.kind", "involvedObject.name", "involvedObject.namespace",
              "involvedObject.uid", "reason", "type", "involvedObject.apiVersion",
              "involvedObject.resourceVersion", "involvedObject.fieldPath", "source"),
    "Namespace": ("status.phase",),
    "Job": ("status.successful",),
}


def _get_path(obj: dict[str, Any], path: str) -> str:
    cur: Any = obj
    for p in path.split("."):
        if not isinstance(cur, dict):
            return ""
        cur = cur.get(p)
    return "" if cur is None else str(cur)


def build_matcher(label_sel: str | None, field_sel: str | None, kind: str) -> Matcher | None:
    """A predicate on whole objects, or None when everything matches."""
    reqs = parse_label_selector(label_sel or "")
    fields = parse_field_selector(field_sel or "", kind)
    if not reqs and not fields:
        return None

    def match(obj: dict[str, Any]) -> bool:
        meta = obj.get("metadata") or {}
        if reqs:
            labels = meta.get("labels") or {}
            for r in reqs:
                if not r.matches(labels):
                    return False
        for fld, eq, val in fields:
            if (_get_path(obj, fld) == val) != eq:
                return False
        return True

    return match


def selector_matches(selector: dict[str, Any] | None, labels: dict[str, str]) -> bool:
    """Match a structured LabelSelector (matchLabels/matchExpressions) against labels."""
    if not selector:
        return False
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for e in selector.get("matchExpressions") or []:
        op = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!"}.get(
            e.get("operator", ""), "in")
        if not Requirement(e.get("key", ""), op, frozenset(e.get("values") or [])).matches(
                labels):
            return False
    return True
