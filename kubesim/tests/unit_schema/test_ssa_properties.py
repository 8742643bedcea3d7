"""Property tests of server-side apply over maps and associative lists."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from kubesim.schema import GVK, Schema
from kubesim.ssa import Conflict, apply

CM = GVK("", "v1", "ConfigMap")
DEPLOY = GVK("apps", "v1", "Deployment")
keys = st.sampled_from(["a", "b", "c", "d", "e"])
maps = st.dictionaries(keys, st.sampled_from(["1", "2"]), max_size=5)
SCHEMA = Schema()


def cm(data: dict, labels: dict | None = None) -> dict:
    meta: dict = {"name": "c", "namespace": "default"}
    if labels is not None:
        meta["labels"] = labels
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": data}


def run(live: dict | None, cfg: dict, manager: str, force: bool = False) -> dict:
    return apply(live, cfg, manager=manager, force=force, schema=SCHEMA, gvk=CM, now="T")


@settings(max_examples=120, deadline=None)
@given(maps, maps)
def test_apply_is_idempotent_and_contains_config(first: dict, second: dict) -> None:
    live = run(None, cm(first), "m")
    out = run(live, cm(second), "m")
    assert out.get("data", {}) == second  # sole owner: exactly the config (empty map omitted)
    assert run(out, cm(second), "m") == out


@settings(max_examples=120, deadline=None)
@given(maps, maps, maps)
def test_two_managers_keep_each_others_fields(a: dict, b: dict, a2: dict) -> None:
    live = run(None, cm(a), "A")
    try:
        live = run(live, cm(b), "B")
    except Conflict as e:
        clashing = {k for k in a if k in b and a[k] != b[k]}
        assert {p for _, p in e.conflicts} == {f".data.{k}" for k in clashing}
        live = run(live, cm(b), "B", force=True)
    merged = {**a, **b}
    assert live.get("data", {}) == merged
    # A re-applies a different set: B's keys survive, A's dropped keys go unless B owns them
    try:
        out = run(live, cm(a2), "A", force=True)
    except Conflict:  # pragma: no cover - force never raises
        raise
    for k, v in b.items():
        assert out.get("data", {})[k] == a2.get(k, v)
    for k in a:
        if k not in b and k not in a2:
            assert k not in out.get("data", {})


names = st.lists(st.sampled_from(["a", "b", "c", "d"]), unique=True, max_size=4)


@settings(max_examples=80, deadline=None)
@given(names, names)
def test_containers_follow_the_applied_names(first: list, second: list) -> None:
    def dep(ns: list) -> dict:
        return {"apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": "d", "namespace": "default"},
                "spec": {"template": {"spec": {"containers": [
                    {"name": n, "image": "img"} for n in ns]}}}}
    live = apply(None, dep(first), manager="m", force=False, schema=SCHEMA, gvk=DEPLOY,
                 now="T")
    out = apply(live, dep(second), manager="m", force=False, schema=SCHEMA, gvk=DEPLOY,
                now="T")
    got = [c["name"] for c in out["spec"]["template"]["spec"].get("containers", [])]
    assert sorted(got) == sorted(second)


envs = st.lists(st.tuples(st.sampled_from(["A", "B", "C"]), st.sampled_from(["1", "2"])),
                max_size=3, unique_by=lambda t: t[0])
containers = st.lists(st.tuples(st.sampled_from(["x", "y", "z"]), st.sampled_from(["i1", "i2"]),
                                envs), max_size=3, unique_by=lambda t: t[0])


def _dep(cs: list) -> dict:
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "d", "namespace": "default"},
            "spec": {"template": {"spec": {"containers": [
                {"name": n, "image": img, **({"env": [{"name": k, "value": v} for k, v in e]}
                                             if e else {})}
                for n, img, e in cs]}}}}


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["m1", "m2", "m3"]), containers), min_size=1,
                max_size=4))
def test_forced_apply_always_wins_and_owners_stay_consistent(steps: list) -> None:
    live = None
    for manager, cs in steps:
        live = apply(live, _dep(cs), manager=manager, force=True, schema=SCHEMA, gvk=DEPLOY,
                     now="T")
        got = {c["name"]: c for c in live["spec"]["template"]["spec"].get("containers", [])}
        for name, image, env in cs:
            assert got[name]["image"] == image
            got_env = {e["name"]: e.get("value") for e in got[name].get("env", [])}
            for k, v in env:
                assert got_env[k] == v
        # no two managers own the same leaf with different opinions: re-applying any
        # manager's last config without force never conflicts with itself
        entries = live["metadata"].get("managedFields", [])
        assert len({(e["manager"], e["operation"]) for e in entries}) == len(entries)
    last_manager, last_cs = steps[-1]
    again = apply(live, _dep(last_cs), manager=last_manager, force=False, schema=SCHEMA,
                  gvk=DEPLOY, now="T2")
    assert again["spec"] == live["spec"]
