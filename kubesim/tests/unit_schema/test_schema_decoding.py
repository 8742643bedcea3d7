"""Type checks and fieldValidation (Strict / Warn / Ignore) on writes."""
from __future__ import annotations

import copy
import json

import pytest

from kubesim.decoding import FieldValidationError, check_fields
from kubesim.schema import GVK, Schema

DEPLOY = GVK("apps", "v1", "Deployment")


@pytest.fixture(scope="module")
def schema() -> Schema:
    return Schema(source="validate")


def dep(spec: dict, **meta: object) -> dict:
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "d", **meta}, "spec": spec}


def test_strict_rejects_unknown_fields_with_the_real_message(schema: Schema) -> None:
    with pytest.raises(FieldValidationError) as e:
        check_fields(dep({"replicass": 2, "x": 1}), DEPLOY, schema, "Strict")
    assert e.value.code == 400
    assert str(e.value) == ('Deployment in version "v1" cannot be handled as a Deployment: '
                            'strict decoding error: unknown field "spec.replicass", '
                            'unknown field "spec.x"')


def test_warn_and_ignore_drop_unknown_fields(schema: Schema) -> None:
    obj = dep({"replicas": 1, "template": {"spec": {"containers": [{"name": "a",
                                                                    "imagee": "x"}]}}})
    before = copy.deepcopy(obj)
    pruned, warnings = check_fields(obj, DEPLOY, schema, "Warn")
    assert warnings == ['unknown field "spec.template.spec.containers[0].imagee"']
    assert pruned["spec"]["template"]["spec"]["containers"] == [{"name": "a"}]
    assert obj == before
    assert check_fields(obj, DEPLOY, schema, "Ignore") == (pruned, [])


@pytest.mark.parametrize("spec,message", [
    ({"replicas": "two"}, "json: cannot unmarshal string into Go struct field "
                          "DeploymentSpec.spec.replicas of type int32"),
    ({"template": {"spec": {"containers": [{"name": "a", "ports": [{"containerPort": "80"}]}]}}},
     "json: cannot unmarshal string into Go struct field "
     "ContainerPort.spec.template.spec.containers.ports.containerPort of type int32"),
    ({"paused": "yes"}, "json: cannot unmarshal string into Go struct field "
                        "DeploymentSpec.spec.paused of type bool"),
    ({"template": []}, "json: cannot unmarshal array into Go struct field "
                       "DeploymentSpec.spec.template of type struct"),
])
def test_wrong_types_are_rejected(schema: Schema, spec: dict, message: str) -> None:
    with pytest.raises(FieldValidationError) as e:
        check_fields(dep(spec), DEPLOY, schema, "Ignore")
    assert str(e.value).endswith(message)


def test_labels_must_be_strings(schema: Schema) -> None:
    with pytest.raises(FieldValidationError, match="ObjectMeta.metadata.labels of type string"):
        check_fields(dep({}, labels={"a": 1}), DEPLOY, schema)


def test_int_or_string_and_quantities_accept_both(schema: Schema) -> None:
    obj = dep({"strategy": {"rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 1}},
               "template": {"spec": {"containers": [{"name": "a", "resources": {
                   "limits": {"cpu": 0.5, "memory": "1Gi"}}}]}}})
    assert check_fields(obj, DEPLOY, schema) == (obj, [])


def test_crd_fields_are_pruned_structurally(schema: Schema) -> None:
    s = Schema(source="validate")
    s.register_crd({"metadata": {"name": "things.ex.io"}, "spec": {
        "group": "ex.io", "scope": "Namespaced", "names": {"kind": "Thing", "plural": "things"},
        "versions": [{"name": "v1", "served": True, "schema": {"openAPIV3Schema": {
            "type": "object", "properties": {"spec": {"type": "object", "properties": {
                "size": {"type": "integer"},
                "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}}}}}}]}})
    gvk = GVK("ex.io", "v1", "Thing")
    obj = {"apiVersion": "ex.io/v1", "kind": "Thing", "metadata": {"name": "t"},
           "spec": {"size": 1, "extra": 2, "free": {"any": {"thing": [1]}}}}
    pruned, warnings = check_fields(obj, gvk, s, "Warn")
    assert warnings == ['unknown field "spec.extra"']
    assert json.dumps(pruned["spec"], sort_keys=True) == \
        '{"free": {"any": {"thing": [1]}}, "size": 1}'
    with pytest.raises(FieldValidationError) as e:
        check_fields({**obj, "spec": {"size": "big"}}, gvk, s)
    assert e.value.code == 422
    assert str(e.value) == ('Thing.ex.io "t" is invalid: spec.size: Invalid value: "string": '
                            'spec.size in body must be of type integer: "string"')
    assert check_fields({"kind": "X"}, GVK("no", "v1", "X"), s) == ({"kind": "X"}, [])
