"""Manifest parsing: the limits and errors every source goes through."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from syncwright import manifests
from syncwright.errors import ManifestError
from syncwright.manifests import check_unique, dump_yaml, key_of, parse_manifests

CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n"


def test_multi_document_and_empty_documents() -> None:
    text = "---\n" + CM.format(name="a") + "---\n---\n# only a comment\n---\n" + CM.format(name="b")
    objs = parse_manifests(text, "x.yaml")
    assert [o["metadata"]["name"] for o in objs] == ["a", "b"]


def test_list_kinds_are_flattened() -> None:
    text = (
        "apiVersion: v1\nkind: List\nitems:\n"
        "- {apiVersion: v1, kind: ConfigMap, metadata: {name: a}}\n"
        "- apiVersion: rbac.authorization.k8s.io/v1\n  kind: RoleList\n  items:\n"
        "  - {apiVersion: rbac.authorization.k8s.io/v1, kind: Role, metadata: {name: r}}\n"
    )
    objs = parse_manifests(text, "x.yaml")
    assert [(o["kind"], o["metadata"]["name"]) for o in objs] == [("ConfigMap", "a"), ("Role", "r")]


def test_malformed_yaml_names_file_and_line() -> None:
    text = CM.format(name="a") + "  data: [unclosed\n"
    with pytest.raises(ManifestError) as e:
        parse_manifests(text, "dir/bad.yaml")
    msg = str(e.value)
    assert "dir/bad.yaml" in msg and "line 6" in msg  # the unclosed flow list is reported at EOF


def test_malformed_json_names_file_and_line() -> None:
    with pytest.raises(ManifestError, match=r"cm.json.*invalid JSON at line 2"):
        parse_manifests('{"apiVersion": "v1",\n "kind": }', "cm.json", fmt="json")


def test_alias_bomb_rejected_quickly() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 10):
        prev = f"*a{i-1}"
        lines.append(f"a{i}: &a{i} [{', '.join([prev] * 10)}]")
    bomb = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: bomb}\ndata:\n" + "\n".join("  " + ln for ln in lines) + "\n"
    start = time.monotonic()
    with pytest.raises(ManifestError, match="alias"):
        parse_manifests(bomb, "bomb.yaml")
    assert time.monotonic() - start < 1.0


def test_harmless_anchors_are_fine() -> None:
    text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, labels: &l {x: y}}\ndata: *l\n"
    assert parse_manifests(text, "a.yaml")[0]["data"] == {"x": "y"}


def test_stream_over_size_cap() -> None:
    with pytest.raises(ManifestError, match="over the 100-byte cap"):
        parse_manifests(CM.format(name="a") * 10, "big.yaml", max_bytes=100)


@pytest.mark.parametrize("doc,what", [("- a\n- b\n", "list"), ("just a string\n", "str"), ("42\n", "int")])
def test_document_not_a_mapping(doc: str, what: str) -> None:
    with pytest.raises(ManifestError, match=f"x.yaml:1: document is a {what}, not a mapping"):
        parse_manifests(doc, "x.yaml")


@pytest.mark.parametrize(
    "doc,missing",
    [
        ("kind: ConfigMap\nmetadata: {name: a}\n", "apiVersion"),
        ("apiVersion: v1\nmetadata: {name: a}\n", "kind"),
        ("apiVersion: v1\nkind: ConfigMap\nmetadata: {labels: {}}\n", "metadata.name"),
        ("apiVersion: v1\nkind: ConfigMap\n", "metadata.name"),
    ],
)
def test_missing_required_fields(doc: str, missing: str) -> None:
    with pytest.raises(ManifestError, match=f"missing {missing}"):
        parse_manifests(CM.format(name="ok") + "---\n" + doc, "x.yaml")


def test_error_names_the_document_line() -> None:
    with pytest.raises(ManifestError, match=r"x.yaml:6"):
        parse_manifests(CM.format(name="ok") + "---\nkind: ConfigMap\nmetadata: {name: a}\n", "x.yaml")


def test_generate_name_is_accepted() -> None:
    objs = parse_manifests("apiVersion: batch/v1\nkind: Job\nmetadata: {generateName: hook-}\n", "j.yaml")
    assert objs[0]["metadata"]["generateName"] == "hook-"


def test_duplicate_identity_is_an_error() -> None:
    objs = parse_manifests(CM.format(name="a") + "---\n" + CM.format(name="a"), "x.yaml")
    with pytest.raises(ManifestError, match="duplicate resource ConfigMap a"):
        check_unique(objs, "x.yaml")


def test_same_name_different_namespace_or_group_is_fine() -> None:
    objs = [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "namespace": "x"}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "namespace": "y"}},
        {"apiVersion": "example.com/v1", "kind": "ConfigMap", "metadata": {"name": "a", "namespace": "x"}},
    ]
    check_unique(objs, "x")


def test_key_of() -> None:
    key = key_of({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}}, "ns")
    assert (key.group, key.kind, key.namespace, key.name) == ("apps", "Deployment", "ns", "d")
    assert str(key) == "apps/Deployment ns/d"


_names = st.text(alphabet="abcdefghij-0123", min_size=1, max_size=12).filter(lambda s: s[0].isalpha())


@given(st.lists(st.fixed_dictionaries({
    "apiVersion": st.sampled_from(["v1", "apps/v1"]),
    "kind": st.sampled_from(["ConfigMap", "Deployment"]),
    "metadata": st.fixed_dictionaries({"name": _names}),
    "data": st.dictionaries(_names, st.text(max_size=20), max_size=3),
}), max_size=5))
@settings(max_examples=60, deadline=None)
def test_dump_then_parse_roundtrips(objs: list[dict[str, object]]) -> None:
    assert parse_manifests(dump_yaml(objs), "rt.yaml") == objs


def test_limit_is_configurable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(manifests, "MAX_EXPANDED_NODES", 5)
    text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: &d {a: b, c: d}\nx: [*d, *d, *d]\n"
    with pytest.raises(ManifestError, match="more than 5 nodes"):
        parse_manifests(text, "a.yaml")
