"""Decoding of the few protobuf request bodies kubectl's imperative commands send.

`kubectl create configmap|secret|namespace|serviceaccount|deployment|job|service`
use typed clients that POST `application/vnd.kubernetes.protobuf`. kubesim
answers in JSON (which those clients also accept) and decodes only these types,
and only the fields those generators set, using field numbers from Kubernetes'
generated.proto files. Other protobuf bodies get 415 with a message naming the type.
"""

from __future__ import annotations

import base64
from typing import Any

MAGIC = b"k8s\x00"

# field number -> (json name, kind); kinds: str, bytes, bool, int, map_str, map_bytes,
# rep_str, msg:<Type>, rep_msg:<Type>
Spec = dict[int, tuple[str, str]]
TYPES: dict[str, Spec] = {
    "ObjectMeta": {1: ("name", "str"), 2: ("generateName", "str"), 3: ("namespace", "str"),
                   11: ("labels", "map_str"), 12: ("annotations", "map_str"),
                   13: ("ownerReferences", "rep_msg:OwnerReference"),
                   14: ("finalizers", "rep_str")},
    "OwnerReference": {1: ("kind", "str"), 3: ("name", "str"), 4: ("uid", "str"),
                       5: ("apiVersion", "str"), 6: ("controller", "bool"),
                       7: ("blockOwnerDeletion", "bool")},
    "ConfigMap": {1: ("metadata", "msg:ObjectMeta"), 2: ("data", "map_str"),
                  3: ("binaryData", "map_bytes"), 4: ("immutable", "bool")},
    "Secret": {1: ("metadata", "msg:ObjectMeta"), 2: ("data", "map_bytes"), 3: ("type", "str"),
               4: ("stringData", "map_str"), 5: ("immutable", "bool")},
    "Namespace": {1: ("metadata", "msg:ObjectMeta"), 2: ("spec", "msg:NamespaceSpec")},
    "NamespaceSpec": {1: ("finalizers", "rep_str")},
    "ServiceAccount": {1: ("metadata", "msg:ObjectMeta"),
                       4: ("automountServiceAccountToken", "bool")},
    # What `kubectl create deployment|job|service` generate (the common fields only).
    "Deployment": {1: ("metadata", "msg:ObjectMeta"), 2: ("spec", "msg:DeploymentSpec")},
    "DeploymentSpec": {1: ("replicas", "int"), 2: ("selector", "msg:LabelSelector"),
                       3: ("template", "msg:PodTemplateSpec"),
                       4: ("strategy", "msg:DeploymentStrategy"),
                       5: ("minReadySeconds", "int"), 6: ("revisionHistoryLimit", "int"),
                       7: ("paused", "bool"), 9: ("progressDeadlineSeconds", "int")},
    "DeploymentStrategy": {1: ("type", "str")},
    "LabelSelector": {1: ("matchLabels", "map_str")},
    "PodTemplateSpec": {1: ("metadata", "msg:ObjectMeta"), 2: ("spec", "msg:PodSpec")},
    "PodSpec": {2: ("containers", "rep_msg:Container"), 3: ("restartPolicy", "str"),
                20: ("initContainers", "rep_msg:Container")},
    "Container": {1: ("name", "str"), 2: ("image", "str"), 3: ("command", "rep_str"),
                  4: ("args", "rep_str"), 5: ("workingDir", "str"),
                  6: ("ports", "rep_msg:ContainerPort"), 7: ("env", "rep_msg:EnvVar"),
                  8: ("resources", "msg:ResourceRequirements"),
                  14: ("imagePullPolicy", "str")},
    "ResourceRequirements": {},
    "ContainerPort": {1: ("name", "str"), 3: ("containerPort", "int"), 4: ("protocol", "str")},
    "EnvVar": {1: ("name", "str"), 2: ("value", "str")},
    "Job": {1: ("metadata", "msg:ObjectMeta"), 2: ("spec", "msg:JobSpec")},
    "JobSpec": {1: ("parallelism", "int"), 2: ("completions", "int"),
                3: ("activeDeadlineSeconds", "int"), 6: ("template", "msg:PodTemplateSpec"),
                7: ("backoffLimit", "int")},
    "Service": {1: ("metadata", "msg:ObjectMeta"), 2: ("spec", "msg:ServiceSpec")},
    "ServiceSpec": {1: ("ports", "rep_msg:ServicePort"), 2: ("selector", "map_str"),
                    3: ("clusterIP", "str"), 4: ("type", "str")},
    "ServicePort": {1: ("name", "str"), 2: ("protocol", "str"), 3: ("port", "int"),
                    4: ("targetPort", "msg:IntOrString"), 5: ("nodePort", "int")},
    "IntOrString": {},
}
# Optional (pointer) fields: a zero value is meaningful and kept in JSON.
POINTERS = {"replicas", "revisionHistoryLimit", "progressDeadlineSeconds", "parallelism",
            "completions", "activeDeadlineSeconds", "backoffLimit", "immutable",
            "automountServiceAccountToken", "controller", "blockOwnerDeletion"}
TOP_LEVEL = {"ConfigMap", "Secret", "Namespace", "ServiceAccount", "Deployment", "Job",
             "Service"}


class ProtobufError(ValueError):
    pass


def _varint(buf: bytes, i: int) -> tuple[int, int]:
    shift = result = 0
    while True:
        if i >= len(buf):
            raise ProtobufError("truncated varint")
        b = buf[i]
        i += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, i
        shift += 7


def _fields(buf: bytes) -> list[tuple[int, int | bytes]]:
    out: list[tuple[int, int | bytes]] = []
    i = 0
    while i < len(buf):
        key, i = _varint(buf, i)
        num, wire = key >> 3, key & 7
        if wire == 0:
            v, i = _varint(buf, i)
            out.append((num, v))
        elif wire == 2:
            n, i = _varint(buf, i)
            out.append((num, buf[i:i + n]))
            i += n
        elif wire == 1:
            i += 8
        elif wire == 5:
            i += 4
        else:
            raise ProtobufError(f"unsupported wire type {wire}")
    return out


def _int_or_string(buf: bytes) -> int | str:
    f = dict(_fields(buf))
    if f.get(1, 0) == 1:
        s = f.get(3, b"")
        return s.decode() if isinstance(s, bytes) else str(s)
    v = f.get(2, 0)
    return v if isinstance(v, int) else 0


def _decode(buf: bytes, tname: str) -> Any:
    if tname == "IntOrString":
        return _int_or_string(buf)
    spec = TYPES[tname]
    obj: dict[str, Any] = {}
    for num, val in _fields(buf):
        if num not in spec:
            continue
        name, kind = spec[num]
        if kind == "str" and isinstance(val, bytes):
            if val:
                obj[name] = val.decode()
        elif kind == "bool":
            if val or name in POINTERS:
                obj[name] = bool(val)
        elif kind == "int" and isinstance(val, int):
            if val or name in POINTERS:  # Go's omitempty drops zero non-pointer fields
                obj[name] = val - (1 << 64) if val >= 1 << 63 else val
        elif kind == "rep_str" and isinstance(val, bytes):
            obj.setdefault(name, []).append(val.decode())
        elif kind.startswith("map_") and isinstance(val, bytes):
            entry = dict(_fields(val))
            k = entry.get(1, b"")
            v = entry.get(2, b"")
            assert isinstance(k, bytes) and isinstance(v, bytes)
            obj.setdefault(name, {})[k.decode()] = (
                v.decode() if kind == "map_str" else base64.b64encode(v).decode())
        elif kind.startswith("msg:") and isinstance(val, bytes):
            obj[name] = _decode(val, kind[4:])
        elif kind.startswith("rep_msg:") and isinstance(val, bytes):
            obj.setdefault(name, []).append(_decode(val, kind[8:]))
    return obj


def decode(body: bytes) -> dict[str, Any]:
    """A JSON-shaped object from a Kubernetes protobuf envelope; ProtobufError if unsupported."""
    if not body.startswith(MAGIC):
        raise ProtobufError("missing the k8s protobuf envelope prefix")
    env = dict(_fields(body[len(MAGIC):]))
    tm = env.get(1, b"")
    raw = env.get(2, b"")
    if not isinstance(tm, bytes) or not isinstance(raw, bytes):
        raise ProtobufError("malformed protobuf envelope")
    meta = {k: v.decode() for k, v in _fields(tm) if isinstance(v, bytes)}
    api_version, kind = meta.get(1, ""), meta.get(2, "")
    if kind not in TOP_LEVEL:
        raise ProtobufError(f"kubesim decodes protobuf only for {', '.join(sorted(TOP_LEVEL))}, "
                            f"not {kind or 'this type'}; send JSON (e.g. `kubectl create -f` "
                            f"or `kubectl apply`)")
    obj = _decode(raw, kind)
    return {"apiVersion": api_version, "kind": kind, **obj}
