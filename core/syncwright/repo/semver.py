"""Semantic versions and Masterminds-style constraints, as Argo CD accepts them.

Argo CD resolves ``targetRevision`` values such as ``1.2.*``, ``>=1.0.0 <2.0.0``,
``~1.4`` or ``^2`` against Git tags and Helm chart versions with the Go
``Masterminds/semver`` library. This module implements that syntax: ``||``
alternatives of comma/space separated comparisons; operators ``= != > < >= <=
~ ^``; wildcards ``x X *``; hyphen ranges ``1.2 - 1.4.5``. Pre-releases match
only when the constraint itself names a pre-release (Masterminds' rule).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

_VERSION = re.compile(
    r"^v?(?P<major>0|[1-9]\d*)(?:\.(?P<minor>0|[1-9]\d*))?(?:\.(?P<patch>0|[1-9]\d*))?"
    r"(?:-(?P<pre>[0-9A-Za-z.-]+))?(?:\+(?P<build>[0-9A-Za-z.-]+))?$"
)
_PART = re.compile(r"^v?(?P<major>\d+|[xX*])(?:\.(?P<minor>\d+|[xX*]))?(?:\.(?P<patch>\d+|[xX*]))?(?:-(?P<pre>[0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$")
_OPS = ("!=", ">=", "<=", "=>", "=<", "==", ">", "<", "=", "~>", "~", "^")


@dataclass(frozen=True, order=False)
class Version:
    """A parsed version; ``original`` keeps the tag text (``v1.2.3``)."""

    major: int
    minor: int
    patch: int
    pre: tuple[int | str, ...] = ()
    original: str = ""

    def key(self) -> tuple[int, int, int, int, tuple[tuple[int, int | str], ...]]:
        # A release sorts after its pre-releases; numeric identifiers before alphanumeric ones.
        pre = tuple((0, p) if isinstance(p, int) else (1, p) for p in self.pre)
        return (self.major, self.minor, self.patch, 0 if self.pre else 1, pre)

    def __lt__(self, other: Version) -> bool:
        return self.key() < other.key()

    def __le__(self, other: Version) -> bool:
        return self.key() <= other.key()

    def __gt__(self, other: Version) -> bool:
        return self.key() > other.key()

    def __ge__(self, other: Version) -> bool:
        return self.key() >= other.key()

    def same(self, other: Version) -> bool:
        return self.key() == other.key()

    def __str__(self) -> str:
        pre = "-" + ".".join(str(p) for p in self.pre) if self.pre else ""
        return f"{self.major}.{self.minor}.{self.patch}{pre}"


def _pre(text: str | None) -> tuple[int | str, ...]:
    if not text:
        return ()
    return tuple(int(p) if p.isdigit() else p for p in text.split("."))


def parse_version(text: str) -> Version | None:
    """A version (``1``, ``1.2`` and a leading ``v`` allowed, as Masterminds), else None."""
    m = _VERSION.match(text.strip())
    if not m:
        return None
    return Version(int(m["major"]), int(m["minor"] or 0), int(m["patch"] or 0), _pre(m["pre"]), text)


@dataclass(frozen=True)
class _Cmp:
    op: str
    ver: Version
    #: how many of major/minor/patch were given (wildcards count as missing)
    given: int

    def check(self, v: Version) -> bool:
        op, c = self.op, self.ver
        if op in ("=", "=="):
            return self._wild_eq(v)
        if op == "!=":
            return not self._wild_eq(v)
        if op == ">":
            if self.given < 3:  # >1.2 means >=1.3.0
                return v >= _bump(c, self.given)
            return v > c
        if op == "<":
            return v < c
        if op == ">=":
            return v >= c
        if op == "<=":
            if self.given < 3:  # <=1.2 means <1.3.0
                return v < _bump(c, self.given)
            return v <= c
        if op in ("~", "~>"):
            upper = _bump(c, 1 if self.given == 1 else 2)
            return c <= v < upper
        if op == "^":
            if c.major > 0 or self.given == 1:
                upper = _bump(c, 1)
            elif c.minor > 0 or self.given == 2:
                upper = _bump(c, 2)
            else:
                upper = _bump(c, 3)
            return c <= v < upper
        raise AssertionError(op)  # pragma: no cover

    def _wild_eq(self, v: Version) -> bool:
        if self.given == 3:
            return v.same(self.ver)
        parts = (v.major, v.minor, v.patch)[: self.given]
        return parts == (self.ver.major, self.ver.minor, self.ver.patch)[: self.given] and not v.pre


def _bump(v: Version, level: int) -> Version:
    if level <= 1:
        return Version(v.major + 1, 0, 0, (0,))  # the lowest pre-release of the next major
    if level == 2:
        return Version(v.major, v.minor + 1, 0, (0,))
    return Version(v.major, v.minor, v.patch + 1, (0,))


def _comparison(op: str, text: str) -> _Cmp:
    m = _PART.match(text)
    if not m:
        raise ValueError(f"invalid version {text!r}")
    nums: list[int] = []
    for name in ("major", "minor", "patch"):
        part = m[name]
        if part is None or part in ("x", "X", "*"):
            break
        nums.append(int(part))
    given = len(nums)
    nums += [0] * (3 - given)
    op = {"=>": ">=", "=<": "<="}.get(op, op)
    ver = Version(nums[0], nums[1], nums[2], _pre(m["pre"]) if given == 3 else ())
    if given == 0 and op in ("", "=", "=="):
        return _Cmp(">=", Version(0, 0, 0), 3)
    return _Cmp(op or "=", ver, given)


@dataclass(frozen=True)
class Constraint:
    """``||``-separated groups; a version matches when every comparison of one group does."""

    groups: tuple[tuple[_Cmp, ...], ...]
    text: str

    def allows(self, v: Version) -> bool:
        for group in self.groups:
            if v.pre and not any(c.ver.pre and (c.ver.major, c.ver.minor, c.ver.patch) == (v.major, v.minor, v.patch) for c in group):
                continue  # Masterminds: pre-releases only when the constraint names one of that version
            if all(c.check(v) for c in group):
                return True
        return False

    def best(self, versions: Iterable[Version]) -> Version | None:
        """The highest version this constraint allows."""
        allowed = [v for v in versions if self.allows(v)]
        return max(allowed, key=Version.key) if allowed else None


_TOKEN = re.compile(r"\s*(" + "|".join(re.escape(o) for o in _OPS) + r")?\s*([^\s,]+)")


def parse_constraint(text: str) -> Constraint:
    """Parse a Masterminds constraint; ValueError when it is not one."""
    groups: list[tuple[_Cmp, ...]] = []
    for alt in text.split("||"):
        alt = alt.strip()
        if not alt:
            raise ValueError(f"empty alternative in {text!r}")
        hyphen = re.fullmatch(r"(\S+)\s+-\s+(\S+)", alt)
        if hyphen:
            lo, hi = _comparison(">=", hyphen[1]), _comparison("<=", hyphen[2])
            groups.append((lo, hi))
            continue
        cmps: list[_Cmp] = []
        pos = 0
        alt = alt.replace(",", " ")
        while pos < len(alt):
            if alt[pos].isspace():
                pos += 1
                continue
            m = _TOKEN.match(alt, pos)
            if not m:
                raise ValueError(f"invalid constraint {text!r}")
            cmps.append(_comparison(m[1] or "", m[2]))
            pos = m.end()
        groups.append(tuple(cmps))
    return Constraint(tuple(groups), text)


def is_constraint(text: str) -> bool:
    """True when ``text`` parses as a constraint (a plain version counts, as in Argo CD)."""
    try:
        parse_constraint(text)
    except ValueError:
        return False
    return bool(text.strip())
