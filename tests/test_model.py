"""Application spec parsing: Argo CD's fields accepted, mistakes reported precisely."""

from __future__ import annotations

from pathlib import Path

import pytest

from syncwright.errors import SpecError
from syncwright.model import load_applications, parse_application


def app(**spec: object) -> dict[str, object]:
    base: dict[str, object] = {"source": {"repoURL": "https://example.com/r.git", "path": "x"}}
    base.update(spec)
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "metadata": {"name": "demo"}, "spec": base}


FULL = {
    "project": "team",
    "source": {
        "repoURL": "https://example.com/r.git", "targetRevision": "main", "path": "charts/x",
        "helm": {
            "valueFiles": ["values.yaml", "$values/prod.yaml"], "values": "a: 1\n", "valuesObject": {"b": 2},
            "parameters": [{"name": "image.tag", "value": "v1", "forceString": True}],
            "fileParameters": [{"name": "cfg", "path": "cfg.txt"}], "releaseName": "rel", "namespace": "n",
            "skipCrds": True, "ignoreMissingValueFiles": True, "kubeVersion": "1.30", "apiVersions": ["v1"],
            "passCredentials": False,
        },
    },
    "destination": {"server": "https://kubernetes.default.svc", "namespace": "prod"},
    "syncPolicy": {
        "automated": {"prune": True, "selfHeal": True, "allowEmpty": False},
        "syncOptions": ["CreateNamespace=true"],
        "retry": {"limit": 5, "backoff": {"duration": "5s", "factor": 2, "maxDuration": "3m"}},
        "managedNamespaceMetadata": {"labels": {"a": "b"}},
    },
    "ignoreDifferences": [{"group": "apps", "kind": "Deployment", "jsonPointers": ["/spec/replicas"]}],
    "revisionHistoryLimit": 3,
}


def test_full_argo_cd_spec_parses() -> None:
    a = parse_application(app(**FULL), "app.yaml")
    src = a.spec.effective_sources()[0]
    assert src.helm is not None and src.helm.parameters[0].force_string
    assert src.helm.values_object == {"b": 2}
    assert a.spec.sync_policy is not None and a.spec.sync_policy.automated is not None
    assert a.spec.sync_policy.automated.self_heal
    assert a.spec.revision_history_limit == 3
    assert src.explicit_tool == "helm"


def test_syncwright_api_version_and_other_tools() -> None:
    doc = app(source={
        "repoURL": "r", "kustomize": {"namePrefix": "p-", "images": ["nginx:1.25"], "commonLabels": {"a": "b"},
                                      "replicas": [{"name": "web", "count": 3}],
                                      "patches": [{"patch": "x", "target": {"kind": "Deployment"}}], "components": ["c"]}})
    doc["apiVersion"] = "syncwright.dev/v1alpha1"
    a = parse_application(doc, "a.yaml")
    assert a.spec.effective_sources()[0].kustomize is not None
    d = parse_application(app(source={"repoURL": "r", "directory": {"recurse": True, "jsonnet": {
        "tlas": [{"name": "x", "value": "1", "code": True}], "extVars": [{"name": "e", "value": "v"}], "libs": ["lib"]}}}), "a")
    assert d.spec.effective_sources()[0].explicit_tool == "directory"
    p = parse_application(app(source={"repoURL": "r", "plugin": {"name": "cmp", "env": [{"name": "A", "value": "b"}],
        "parameters": [{"name": "p", "string": "s"}, {"name": "q", "array": ["1"]}, {"name": "m", "map": {"k": "v"}}]}}), "a")
    assert p.spec.effective_sources()[0].explicit_tool == "plugin"


def test_multi_source_kept_and_preferred() -> None:
    a = parse_application(app(sources=[
        {"repoURL": "https://charts.example.com", "chart": "nginx", "targetRevision": "1.*",
         "helm": {"valueFiles": ["$values/nginx.yaml"]}},
        {"repoURL": "https://git.example.com/values.git", "ref": "values"},
    ]), "a.yaml")
    srcs = a.spec.effective_sources()
    assert [s.ref for s in srcs] == ["", "values"] and srcs[0].chart == "nginx"


@pytest.mark.parametrize(
    "mutate,expected",
    [
        (lambda d: d["spec"]["source"].update(helm={"valueFile": ["x"]}),
         "spec.source.helm.valueFile: unknown field"),
        (lambda d: d["spec"]["source"].update(helm={"valueFiles": "x.yaml"}),
         "spec.source.helm.valueFiles: Input should be a valid tuple"),
        (lambda d: d["spec"]["source"].pop("repoURL"), "spec.source.repoURL: required field is missing"),
        (lambda d: d["spec"].pop("source"), "spec: one of source or sources is required"),
        (lambda d: d["spec"].update(destination={"server": "a", "name": "b"}),
         "spec.destination: can't have both name and server defined"),
        (lambda d: d.update(apiVersion="v1"), "apiVersion: expected one of"),
        (lambda d: d["metadata"].update(name="Bad_Name"), "metadata: name must be a lowercase RFC 1123"),
        (lambda d: d["spec"]["source"].update(helm={}, kustomize={}), "multiple tool blocks"),
        (lambda d: d["spec"].update(syncPolicy={"automated": {"prune": "maybe"}}),
         "spec.syncPolicy.automated.prune: Input should be a valid boolean"),
        (lambda d: d["spec"]["source"].update(helm={"parameters": [{"value": "x"}]}),
         "spec.source.helm.parameters[0].name: required field is missing"),
    ],
)
def test_bad_specs_name_file_and_field(mutate: object, expected: str) -> None:
    doc = app()
    mutate(doc)  # type: ignore[operator]
    with pytest.raises(SpecError) as e:
        parse_application(doc, "apps/demo.yaml")
    msg = str(e.value)
    assert msg.startswith("apps/demo.yaml") and expected in msg, msg


def test_not_an_application() -> None:
    with pytest.raises(SpecError, match="kind is 'Deployment', expected 'Application'"):
        parse_application({"kind": "Deployment"}, "a.yaml")


def test_load_applications_from_file(tmp_path: Path) -> None:
    f = tmp_path / "apps.yaml"
    f.write_text("apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: a}\nspec:\n"
                 "  source: {repoURL: r}\n---\n"
                 "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: b}\nspec:\n"
                 "  source: {repoURL: r}\n  bogus: 1\n")
    with pytest.raises(SpecError, match=r"apps.yaml:7 \(Application b\): invalid Application spec: spec.bogus: unknown field"):
        load_applications(f)
    (tmp_path / "empty.yaml").write_text("# nothing\n")
    with pytest.raises(SpecError, match="no Application found"):
        load_applications(tmp_path / "empty.yaml")
    with pytest.raises(SpecError, match="cannot read"):
        load_applications(tmp_path / "missing.yaml")


def test_validated_spec_is_cached_and_rebuilt_without_pydantic(tmp_path: Path) -> None:
    import json
    import os
    import subprocess
    import sys

    f = tmp_path / "app.yaml"
    f.write_text(json.dumps(app(**FULL)))
    env = {**os.environ, "SYNCWRIGHT_CACHE": str(tmp_path / "cache")}
    code = ("import sys; from pathlib import Path; from syncwright.model import load_applications\n"
            f"a = load_applications(Path({str(f)!r}))[0]\n"
            "print(repr(a)); sys.stderr.write(str('pydantic' in sys.modules))")
    first = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    second = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert first.stderr == "True" and second.stderr == "False"
    assert first.stdout == second.stdout
    # a damaged cache entry is ignored, never trusted
    for entry in (tmp_path / "cache" / "specs").glob("*.json"):
        entry.write_text('{"not": "an application"}')
    third = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert third.stdout == first.stdout and third.stderr == "True"


def test_spec_cache_round_trip_keeps_types(tmp_path: Path) -> None:
    """A spec rebuilt from the cache equals the validated one, tuples inside optional fields included."""
    import os

    from syncwright.model import parse_application

    doc = app(source={"repoURL": "r", "plugin": {"name": "p", "parameters": [
        {"name": "a", "array": ["x", "y"]}, {"name": "m", "map": {"k": "v"}}, {"name": "s", "string": "z"}]}})
    old = os.environ.get("SYNCWRIGHT_CACHE")
    os.environ["SYNCWRIGHT_CACHE"] = str(tmp_path)
    try:
        first = parse_application(doc, "a.yaml")
        second = parse_application(doc, "a.yaml")  # from the cache
    finally:
        if old is None:
            del os.environ["SYNCWRIGHT_CACHE"]
        else:
            os.environ["SYNCWRIGHT_CACHE"] = old
    assert first == second
    assert second.spec.effective_sources()[0].plugin.parameters[0].array == ("x", "y")  # type: ignore[union-attr]
