"""The environment a CMP's commands see, exactly as Argo CD builds it.

Sources: ``reposerver/repository/repository.go`` (``getPluginEnvs``,
``getPluginParamEnvs``) and ``ApplicationSourcePluginParameters.Environ`` in
``pkg/apis/application/v1alpha1/types.go``. The build variables come from
``RenderContext.build_env()`` plus ``KUBE_VERSION``/``KUBE_API_VERSIONS``.
User-supplied values (``plugin.env``, ``plugin.parameters``) only ever set
variables prefixed ``ARGOCD_ENV_``/``PARAM_``/``ARGOCD_APP_PARAMETERS``, and
they are data in the process environment, never text given to a shell.
This module is used by both the local path and the sidecar server, so a
sidecar computes the environment itself from structured request data and a
client cannot smuggle arbitrary variables into it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from syncwright.api import SpecError, envsubst

_INVALID_PARAM_CHARS = re.compile(r"[^A-Z0-9_]")
_KUBE_VERSION = re.compile(r"^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?(.*)$")


def kube_version(value: str) -> str:
    """``v1.30`` → ``1.30.0``: Kubernetes ``ParseGeneric`` without the ``v``, as Argo CD passes it."""
    m = _KUBE_VERSION.match(value.strip())
    if not m:
        return value.strip()
    major, minor, patch, rest = m.groups()
    return f"{major}.{minor or 0}.{patch or 0}{rest}"


def escaped(name: str) -> str:
    """Argo CD's ``escaped``: upper-case, every char outside ``[A-Z0-9_]`` → ``_``."""
    return _INVALID_PARAM_CHARS.sub("_", name.upper())


def _go_json(value: Any) -> str:
    """``json.Marshal`` output: compact, map keys sorted, ``<``/``>``/``&`` escaped as Go does."""
    text = json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    return (
        text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
        .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    )


def parameters_to_json(params: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Normalise parameters to Argo CD's JSON shape (``name`` + ``string``/``array``/``map`` when set)."""
    out = []
    for p in params:
        item: dict[str, Any] = {"name": str(p.get("name", ""))}
        if p.get("string") is not None:
            item["string"] = str(p["string"])
        if p.get("map") is not None:
            item["map"] = {str(k): str(v) for k, v in dict(p["map"]).items()}
        if p.get("array") is not None:
            item["array"] = [str(v) for v in p["array"]]
        out.append(item)
    return out


def parameter_env(params: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """``ARGOCD_APP_PARAMETERS`` plus ``PARAM_<NAME>``, ``PARAM_<NAME>_<KEY>``, ``PARAM_<NAME>_<i>``."""
    norm = parameters_to_json(params)
    env = {"ARGOCD_APP_PARAMETERS": _go_json(norm)}
    for p in norm:
        base = f"PARAM_{escaped(p['name'])}"
        if "string" in p:
            env[base] = p["string"]
        for key, value in p.get("map", {}).items():
            env[f"{base}_{escaped(key)}"] = value
        for i, value in enumerate(p.get("array", [])):
            env[f"{base}_{i}"] = value
    return env


def check_values(env: Mapping[str, str], what: str) -> None:
    """A NUL byte cannot travel in an environment; refuse it instead of truncating silently."""
    for name, value in env.items():
        if "\x00" in name or "\x00" in value:
            raise SpecError(f"{what} {name!r} contains a NUL byte")


def plugin_env(entries: Iterable[tuple[str, str]], scope: Mapping[str, str]) -> dict[str, str]:
    """Each ``plugin.env`` entry as ``ARGOCD_ENV_<name>``, ``$VAR`` interpolated from ``scope`` only."""
    out: dict[str, str] = {}
    for name, value in entries:
        if not name or "=" in name or "\x00" in name:
            raise SpecError(f"plugin env name {name!r} is not a valid variable name (empty, '=' or NUL)")
        out[f"ARGOCD_ENV_{name}"] = envsubst(value, scope)
    return out


def cmp_env(
    build_env: Mapping[str, str],
    kube: str,
    api_versions: Sequence[str],
    env_entries: Iterable[tuple[str, str]],
    params: Sequence[Mapping[str, Any]],
) -> dict[str, str]:
    """Everything a CMP command gets besides the pass-through variables: build, KUBE_*, user values.

    User values come last but cannot collide with the build variables: every
    name they produce carries one of the prefixes above.
    """
    env = dict(build_env)
    env["KUBE_VERSION"] = kube_version(kube)
    env["KUBE_API_VERSIONS"] = ",".join(api_versions)
    env.update(plugin_env(env_entries, dict(env)))
    env.update(parameter_env(params))
    check_values(env, "plugin variable")
    return env


def secret_values(env: Mapping[str, str]) -> list[str]:
    """Values redacted from error messages: every ``ARGOCD_ENV_*`` value (they often carry tokens)."""
    return [v for k, v in env.items() if k.startswith("ARGOCD_ENV_") and v]
