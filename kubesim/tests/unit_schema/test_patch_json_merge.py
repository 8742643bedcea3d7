"""RFC 6902 JSON patch and RFC 7386 merge patch."""
from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kubesim.patch import MalformedPatch, PatchError, apply_json_patch, apply_merge_patch

OBJ = {"metadata": {"name": "a", "labels": {"x": "1"}}, "spec": {"list": [1, 2, 3]}}


def test_json_patch_ops_and_no_mutation() -> None:
    before = copy.deepcopy(OBJ)
    out = apply_json_patch(OBJ, [
        {"op": "add", "path": "/metadata/labels/y", "value": "2"},
        {"op": "replace", "path": "/spec/list/0", "value": 9},
        {"op": "remove", "path": "/metadata/labels/x"},
        {"op": "test", "path": "/metadata/name", "value": "a"},
        {"op": "add", "path": "/spec/list/-", "value": 4},
    ])
    assert out == {"metadata": {"name": "a", "labels": {"y": "2"}}, "spec": {"list": [9, 2, 3, 4]}}
    assert OBJ == before


def test_json_patch_test_failure_is_422() -> None:
    with pytest.raises(PatchError) as e:
        apply_json_patch(OBJ, [{"op": "test", "path": "/metadata/name", "value": "b"}])
    assert e.value.code == 422


def test_json_patch_missing_path_is_patch_error() -> None:
    with pytest.raises(PatchError):
        apply_json_patch(OBJ, [{"op": "remove", "path": "/spec/nothere"}])


@pytest.mark.parametrize("ops", [{"op": "add"}, ["x"], [{"path": "/a"}],
                                 [{"op": "bogus", "path": "/a"}]])
def test_json_patch_malformed_is_400(ops: Any) -> None:
    with pytest.raises(MalformedPatch) as e:
        apply_json_patch(OBJ, ops)
    assert e.value.code == 400


def test_merge_patch_rfc7386_examples() -> None:
    assert apply_merge_patch({"a": "b"}, {"a": "c"}) == {"a": "c"}
    assert apply_merge_patch({"a": "b"}, {"b": "c"}) == {"a": "b", "b": "c"}
    assert apply_merge_patch({"a": "b"}, {"a": None}) == {}
    assert apply_merge_patch({"a": "b", "b": "c"}, {"a": None}) == {"b": "c"}
    assert apply_merge_patch({"a": ["b"]}, {"a": "c"}) == {"a": "c"}
    assert apply_merge_patch({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}) == {"a": {"b": "d"}}
    assert apply_merge_patch({"a": [{"b": "c"}]}, {"a": [1]}) == {"a": [1]}
    assert apply_merge_patch({}, {"a": {"bb": {"ccc": None}}}) == {"a": {"bb": {}}}


def test_merge_patch_rejects_non_object() -> None:
    with pytest.raises(MalformedPatch):
        apply_merge_patch(OBJ, [1, 2])


def test_merge_patch_does_not_mutate() -> None:
    before = copy.deepcopy(OBJ)
    patch = {"metadata": {"labels": {"x": None, "z": "3"}}}
    out = apply_merge_patch(OBJ, patch)
    out["metadata"]["labels"]["z"] = "changed"
    assert OBJ == before and patch == {"metadata": {"labels": {"x": None, "z": "3"}}}


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=3),
    lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=2), kids,
                                                              max_size=3),
    max_leaves=8)
objects = st.dictionaries(st.text(max_size=2), json_values, max_size=4)


def _no_nulls(v: Any) -> bool:
    if v is None:
        return False
    if isinstance(v, dict):
        return all(_no_nulls(x) for x in v.values())
    return True


@settings(max_examples=150, deadline=None)
@given(objects, objects)
def test_merge_patch_is_idempotent(target: dict, patch: dict) -> None:
    once = apply_merge_patch(target, patch)
    assert apply_merge_patch(once, patch) == once


@settings(max_examples=150, deadline=None)
@given(objects, objects)
def test_merge_patch_without_nulls_sets_every_patched_key(target: dict, patch: dict) -> None:
    out = apply_merge_patch(target, patch)
    for k, v in patch.items():
        if _no_nulls(v) and not isinstance(v, dict):
            assert out[k] == v
        elif v is None:
            assert k not in out
