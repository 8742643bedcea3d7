"""The ``kustomize edit`` equivalents, unit by unit (kustomize v5 ``commands/edit`` semantics)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from syncwright.api import KustomizeOptions, SpecError, envsubst
from syncwright_kustomize.edits import (
    EditPlan,
    apply_edits,
    dump_kustomization,
    edit_commands,
    load_kustomization,
    parse_image_arg,
    plan_edits,
    split_image,
)
from syncwright_kustomize.plugin import tidy_stderr

Write = Callable[[Path, Mapping[str, str]], Path]
ENV = {"ARGOCD_APP_NAME": "guestbook", "ARGOCD_APP_REVISION": "abc1234"}


def _plan(**spec: Any) -> EditPlan:
    return plan_edits(KustomizeOptions.model_validate(spec), lambda v: envsubst(v, ENV))


def _edit(doc: dict[str, Any], tmp_path: Path, **spec: Any) -> dict[str, Any]:
    return apply_edits(doc, _plan(**spec), tmp_path, "kustomization.yaml")


@pytest.mark.parametrize(("ref", "parts"), [
    ("nginx", ("nginx", "", "")),
    ("nginx:1.27", ("nginx", "1.27", "")),
    ("nginx@sha256:ab", ("nginx", "", "sha256:ab")),
    ("nginx:1.27@sha256:ab", ("nginx", "1.27", "sha256:ab")),
    ("localhost:5000/app", ("localhost:5000/app", "", "")),
    ("localhost:5000/app:v1", ("localhost:5000/app", "v1", "")),
    ("registry.io:443/team/app:v2@sha256:cd", ("registry.io:443/team/app", "v2", "sha256:cd")),
])
def test_split_image_like_kustomize(ref: str, parts: tuple[str, str, str]) -> None:
    assert split_image(ref) == parts


@pytest.mark.parametrize(("arg", "entry"), [  # the examples of `kustomize edit set image --help`
    ("postgres=eu.gcr.io/my-project/postgres:latest",
     {"name": "postgres", "newName": "eu.gcr.io/my-project/postgres", "newTag": "latest", "digest": ""}),
    ("my-app=my-registry/my-app@sha256:24a0",
     {"name": "my-app", "newName": "my-registry/my-app", "newTag": "", "digest": "sha256:24a0"}),
    ("node:8.15.0", {"name": "node", "newTag": "8.15.0", "digest": ""}),
    ("mysql=mariadb", {"name": "mysql", "newName": "mariadb", "newTag": "", "digest": ""}),
    ("alpine@sha256:24a0", {"name": "alpine", "newTag": "", "digest": "sha256:24a0"}),
    ("app=reg/app:v1@sha256:ff", {"name": "app", "newName": "reg/app", "newTag": "v1", "digest": "sha256:ff"}),
])
def test_parse_image_arg(arg: str, entry: dict[str, str]) -> None:
    assert parse_image_arg(arg) == entry


def test_set_image_merges_by_name_sorts_and_substitutes(tmp_path: Path) -> None:
    doc = {"images": [{"name": "zeta", "newTag": "1"}, {"name": "app", "newName": "old/app", "newTag": "0.9"}],
           "imageTags": [{"name": "legacy", "newTag": "2"}]}
    out = _edit(doc, tmp_path, images=["app:$ARGOCD_APP_REVISION", "new=reg/new:1@sha256:aa"])
    assert out["images"] == [  # the arg replaces the whole entry (old newName dropped); imageTags folded in
        {"name": "app", "newTag": "abc1234"},
        {"name": "legacy", "newTag": "2"},
        {"name": "new", "newName": "reg/new", "newTag": "1", "digest": "sha256:aa"},
        {"name": "zeta", "newTag": "1"},
    ]
    assert "imageTags" not in out


def test_set_image_asterisk_keeps_existing_field(tmp_path: Path) -> None:
    doc = {"images": [{"name": "app", "newName": "mirror/app", "newTag": "1"}]}
    assert _edit(doc, tmp_path, images=["app=*:2"])["images"] == [{"name": "app", "newName": "mirror/app", "newTag": "2"}]
    assert _edit({}, tmp_path, images=["app=*:2"])["images"] == [{"name": "app", "newTag": "2"}]


def test_set_replicas_overrides_by_name_and_sorts(tmp_path: Path) -> None:
    doc = {"replicas": [{"name": "web", "count": 1}, {"name": "api", "count": 2}]}
    out = _edit(doc, tmp_path, replicas=[{"name": "web", "count": "4"}, {"name": "cache", "count": 1}])
    assert out["replicas"] == [{"name": "api", "count": 2}, {"name": "cache", "count": 1}, {"name": "web", "count": 4}]


def test_common_labels_substitute_and_conflict(tmp_path: Path) -> None:
    out = _edit({"commonLabels": {"a": "1"}}, tmp_path, commonLabels={"app": "$ARGOCD_APP_NAME", "quoted": '"v"'})
    assert out["commonLabels"] == {"a": "1", "app": "guestbook", "quoted": "v"}  # kustomize strips quotes
    with pytest.raises(SpecError, match="label a already in kustomization file"):
        _edit({"commonLabels": {"a": "1"}}, tmp_path, commonLabels={"a": "2"})
    forced = _edit({"commonLabels": {"a": "1"}}, tmp_path, commonLabels={"a": "2"}, forceCommonLabels=True)
    assert forced["commonLabels"] == {"a": "2"}


def test_labels_without_selector_append_a_labels_entry(tmp_path: Path) -> None:
    doc = {"labels": [{"pairs": {"x": "1"}, "includeSelectors": True}]}
    out = _edit(doc, tmp_path, commonLabels={"b": "2", "a": "1"}, labelWithoutSelector=True, labelIncludeTemplates=True)
    assert out["labels"] == [{"pairs": {"x": "1"}, "includeSelectors": True},
                             {"pairs": {"a": "1", "b": "2"}, "includeTemplates": True}]
    assert "commonLabels" not in out


def test_common_annotations_substitute_only_when_asked(tmp_path: Path) -> None:
    plain = _edit({}, tmp_path, commonAnnotations={"rev": "$ARGOCD_APP_REVISION"})
    assert plain["commonAnnotations"] == {"rev": "$ARGOCD_APP_REVISION"}
    subst = _edit({}, tmp_path, commonAnnotations={"rev": "$ARGOCD_APP_REVISION", "cost": "$$5"},
                  commonAnnotationsEnvsubst=True)
    assert subst["commonAnnotations"] == {"rev": "abc1234", "cost": "$5"}
    with pytest.raises(SpecError, match="annotation k already"):
        _edit({"commonAnnotations": {"k": "v"}}, tmp_path, commonAnnotations={"k": "w"})
    forced = _edit({"commonAnnotations": {"k": "v"}}, tmp_path, commonAnnotations={"k": "w"}, forceCommonAnnotations=True)
    assert forced["commonAnnotations"] == {"k": "w"}


def test_namespace_prefix_suffix_patches_components(tmp_path: Path) -> None:
    (tmp_path / "comps/a").mkdir(parents=True)
    (tmp_path / "comps/b").mkdir(parents=True)
    doc = {"patches": [{"path": "p.yaml"}], "components": ["comps/b"]}
    out = _edit(doc, tmp_path, namespace="ns", namePrefix="-pre-", nameSuffix="-s",
                patches=[{"patch": "- op: remove\n  path: /x\n", "target": {"kind": "Deployment", "labelSelector": "a=b"}}],
                components=["comps/*"])
    assert (out["namespace"], out["namePrefix"], out["nameSuffix"]) == ("ns", "-pre-", "-s")
    assert out["patches"] == [{"path": "p.yaml"},
                              {"patch": "- op: remove\n  path: /x\n", "target": {"kind": "Deployment", "labelSelector": "a=b"}}]
    assert out["components"] == ["comps/b", "comps/a"]  # globbed, already-listed entries not repeated


def test_edit_commands_are_argo_cds(tmp_path: Path) -> None:
    plan = _plan(namePrefix="p-", images=["nginx:1"], replicas=[{"name": "w", "count": 2}],
                 commonLabels={"a": "b"}, forceCommonLabels=True, labelWithoutSelector=True,
                 commonAnnotations={"c": "d"}, namespace="ns", components=["../c"])
    assert edit_commands(plan) == [
        ["edit", "set", "nameprefix", "--", "p-"],
        ["edit", "set", "image", "nginx:1"],
        ["edit", "set", "replicas", "w=2"],
        ["edit", "add", "label", "--force", "--without-selector", "a:b"],
        ["edit", "add", "annotation", "c:d"],
        ["edit", "set", "namespace", "--", "ns"],
        ["edit", "add", "component", "../c"],
    ]
    assert _plan().is_empty()


def test_round_trip_keeps_untouched_fields_as_kustomize_reads_them(tmp_path: Path, write: Write) -> None:
    write(tmp_path, {"kustomization.yaml": "configMapGenerator:\n- name: c\n  literals: [on=yes, n=1]\n"
                                          "commonLabels:\n  flag: 'y'\n  when: 2024-01-01\n  on: off\n"})
    doc = load_kustomization(tmp_path / "kustomization.yaml", "kustomization.yaml")
    assert doc["commonLabels"] == {"flag": "y", "when": "2024-01-01", "on": "off"}
    again = yaml.load(dump_kustomization(doc), Loader=yaml.SafeLoader)  # a YAML 1.1 reader, as kustomize's
    assert again["commonLabels"] == {"flag": "y", "when": "2024-01-01", "on": "off"}


def test_tidy_stderr_unwraps_klog() -> None:
    line = 'E1126 06:07:25.116523   30660 run.go:72] "command failed" err="invalid Kustomization: json: unknown field \\"x\\""'
    assert tidy_stderr(line) == 'error: invalid Kustomization: json: unknown field "x"'
    multi = 'E1126 06:05:45.223977   22106 run.go:72] "command failed" err=<\n\tError: boom\n\t: more\n >'
    assert tidy_stderr(multi) == "error: Error: boom\n: more"


@pytest.mark.skipif(shutil.which("kustomize") is None, reason="no standalone kustomize binary to compare `edit` with")
def test_same_build_as_real_kustomize_edit(tmp_path: Path) -> None:  # pragma: no cover - needs kustomize
    """Where a kustomize binary exists: our edits and its ``kustomize edit`` build the same objects."""
    example = Path(__file__).resolve().parents[3] / "examples/kustomize-app"
    spec = yaml.safe_load((example.parent / "apps/kustomize-app-prod.yaml").read_text())["spec"]["source"]["kustomize"]
    spec.pop("patches")  # no edit command for patches
    spec["components"] = ["../../components/monitoring"]
    spec.pop("ignoreMissingComponents")
    plan = _plan(**spec)
    outputs = []
    for mode in ("ours", "kustomize"):
        tree = shutil.copytree(example, tmp_path / mode)
        kdir = tree / "overlays/prod"
        if mode == "ours":
            k = kdir / "kustomization.yaml"
            k.write_text(dump_kustomization(apply_edits(yaml.safe_load(k.read_text()), plan, kdir, "k")))
        else:
            for cmd in edit_commands(plan):
                subprocess.run(["kustomize", *cmd], cwd=kdir, check=True)
        outputs.append(subprocess.run(["kustomize", "build", str(kdir)], capture_output=True, text=True, check=True).stdout)
    assert list(yaml.safe_load_all(outputs[0])) == list(yaml.safe_load_all(outputs[1]))
