"""Argo CD's include/exclude glob dialect (gobwas/glob without separators)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from syncwright.api import SpecError, glob_match


@pytest.mark.parametrize(("pattern", "text", "matches"), [
    # the examples of Argo CD's directory docs
    ("*.yaml", "deployment.yaml", True),
    ("*.yaml", "config.json", False),
    ("{config.json,*.yaml}", "config.json", True),
    ("{config.json,*.yaml}", "svc.yaml", True),
    ("{config.json,env-usw2/*}", "env-usw2/deploy.yaml", True),
    ("{config.json,env-usw2/*}", "env-use1/deploy.yaml", False),
    # no separators: * and ** cross '/'
    ("*.yaml", "a/b/c.yaml", True),
    ("**/c.yaml", "a/b/c.yaml", True),
    ("a/*", "a/b/c.yaml", True),
    # the whole text must match
    ("a.yaml", "xa.yaml", False),
    ("a", "a.yaml", False),
    # ?, classes, negation, ranges
    ("?.yaml", "a.yaml", True),
    ("?.yaml", "ab.yaml", False),
    ("[a-c].yaml", "b.yaml", True),
    ("[a-c].yaml", "d.yaml", False),
    ("[!a-c].yaml", "d.yaml", True),
    ("[!a-c].yaml", "a.yaml", False),
    # nested alternation, escapes, regex metacharacters are literals
    ("{a,b{1,2}}.yaml", "b2.yaml", True),
    ("{a,b{1,2}}.yaml", "b3.yaml", False),
    ("\\*.yaml", "*.yaml", True),
    ("\\*.yaml", "a.yaml", False),
    ("a+b(1).yaml", "a+b(1).yaml", True),
    ("a.yaml", "aXyaml", False),
    # a comma outside braces is a literal
    ("a,b.yaml", "a,b.yaml", True),
])
def test_glob_match(pattern: str, text: str, matches: bool) -> None:
    assert glob_match(pattern, text) is matches


@pytest.mark.parametrize(("pattern", "why"), [
    ("{a,b", "unclosed '{'"),
    ("[ab", "unclosed '['"),
    ("a\\", "trailing backslash"),
    ("[!]", "empty character class"),
])
def test_malformed_globs(pattern: str, why: str) -> None:
    with pytest.raises(SpecError, match=f"glob .*: {re.escape(why)}"):
        glob_match(pattern, "x")


@given(st.text(alphabet=st.characters(blacklist_characters="*?[]{}\\,", blacklist_categories=("Cs",)), max_size=30))
def test_literal_patterns_match_only_themselves(text: str) -> None:
    assert glob_match(text, text)
    assert not glob_match(text, text + "x")
