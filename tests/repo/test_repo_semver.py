"""Masterminds-style constraints as Argo CD applies them to tags and chart versions."""

from __future__ import annotations

import pytest

from syncwright.repo.semver import is_constraint, parse_constraint, parse_version

VERSIONS = [parse_version(v) for v in ("v1.0.0", "1.2.0", "1.2.5", "v1.4.2", "1.5.0", "2.0.0", "2.1.0-rc.1", "0.3.1")]


@pytest.mark.parametrize("constraint,best", [
    ("1.2.*", "1.2.5"), ("1.2.x", "1.2.5"), (">=1.0.0 <2.0.0", "1.5.0"), (">=1.0.0, <1.3.0", "1.2.5"),
    ("~1.4", "1.4.2"), ("~1", "1.5.0"), ("^1.2", "1.5.0"), ("^0.3", "0.3.1"), ("*", "2.0.0"), ("", "2.0.0"),
    (">1.2", "2.0.0"), ("<=1.4", "1.4.2"), ("1.0 - 1.4", "1.4.2"), ("<1.0.0 || >=1.5.0 <2.0.0", "1.5.0"),
    (">=2.1.0-rc.0", "2.1.0-rc.1"), ("!=2.0.0", "1.5.0"), ("1.2.0", "1.2.0"), (">=3", None),
])
def test_best_match(constraint: str, best: str | None) -> None:
    found = parse_constraint(constraint or "*").best(v for v in VERSIONS if v is not None)
    assert (str(found) if found else None) == best


def test_prereleases_only_when_named() -> None:
    rc = parse_version("2.1.0-rc.1")
    assert rc is not None and not parse_constraint(">=2.0.0").allows(rc)
    assert parse_version("1.0.0-alpha") < parse_version("1.0.0-alpha.1") < parse_version("1.0.0")  # type: ignore[operator]


@pytest.mark.parametrize("text", ["main", "feature/x", "HEAD", "v1..2", ">=", "release-1.0"])
def test_not_constraints(text: str) -> None:
    assert not is_constraint(text)
