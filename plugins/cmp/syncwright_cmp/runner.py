"""Running one plugin against one source: discover, init + generate, parameter announcements.

The same functions serve the local path (``plugin.py``) and the sidecar
server (``server.py``), so a plugin behaves identically in both: the same
environment, the same mode reset, the same output checks and errors.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any

from syncwright.api import ManifestError, RenderContext, RenderError, ToolError

from .buildenv import cmp_env, parameters_to_json, secret_values
from .config import Discover, PluginConfig


# -- discover -------------------------------------------------------------------------------


@lru_cache(maxsize=256)
def glob_regex(pattern: str, double_star: bool) -> re.Pattern[str]:
    """Go ``filepath.Match`` syntax (``*``, ``?``, ``[...]``, ``\\``); with ``double_star``, zglob's ``**``."""
    pattern = pattern.strip()
    while pattern.startswith("./"):
        pattern = pattern[2:]
    parts = [p for p in pattern.split("/") if p not in ("", ".")]
    out = []
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if double_star and part == "**":
            out.append(".*" if last else "(?:[^/]+/)*")
            continue
        out.append(_segment(part) + ("" if last else "/"))
    return re.compile("".join(out) + r"\Z")


def _segment(part: str) -> str:
    res = []
    i = 0
    while i < len(part):
        c = part[i]
        if c == "*":
            res.append("[^/]*")
        elif c == "?":
            res.append("[^/]")
        elif c == "\\" and i + 1 < len(part):
            i += 1
            res.append(re.escape(part[i]))
        elif c == "[":
            j = part.find("]", i + 2 if part[i + 1:i + 2] in ("^", "!") else i + 1)
            if j == -1:
                res.append(re.escape(c))
            else:
                body = part[i + 1:j]
                neg = body[:1] in ("^", "!")
                body = body[1:] if neg else body
                res.append("[" + ("^" if neg else "") + body.replace("\\", "\\\\") + "]")
                i = j
        else:
            res.append(re.escape(c))
        i += 1
    return "".join(res)


def rule_depth(discover: Discover) -> int | None:
    """How many path segments a rule can match: a fileName glob has a fixed depth, ``**`` has none."""
    if discover.kind != "fileName":
        return None
    return len([p for p in discover.file_name.split("/") if p not in ("", ".")])


def tree_paths(app_dir: Path, max_depth: int | None = None) -> list[str]:
    """Every path (files and dirs) under ``app_dir``, relative, ``/``-separated, without ``.git``.

    With ``max_depth``, only paths of at most that many segments (the walk stops there).
    """
    out: list[str] = []
    for dirpath, dirnames, filenames in os.walk(app_dir):
        dirnames[:] = [d for d in dirnames if d != ".git"]
        rel = os.path.relpath(dirpath, app_dir)
        depth = 0 if rel == "." else rel.count(os.sep) + 1
        names = list(dirnames)
        if max_depth is not None and depth + 1 >= max_depth:
            dirnames[:] = []  # these children are the deepest entries the rule can match
        prefix = "" if rel == "." else rel.replace(os.sep, "/") + "/"
        out.extend(prefix + n for n in names)
        out.extend(prefix + n for n in filenames if n != ".git")
    return out


def match_paths(discover: Discover, paths: Iterable[str]) -> str | None:
    """The first path matching a ``fileName`` or ``find.glob`` rule, else None."""
    if discover.kind == "fileName":
        rx = glob_regex(discover.file_name, False)
    elif discover.kind == "glob":
        rx = glob_regex(discover.glob, True)
    else:
        raise ValueError("match_paths needs a fileName or find.glob rule")
    for p in paths:
        if rx.match(p):
            return p
    return None


def discover_match(ctx: RenderContext, cfg: PluginConfig, app_dir: Path | None = None) -> str | None:
    """Why ``cfg`` claims the source (a reason string), or None. No rule → never claims."""
    rule = cfg.discover
    app_dir = app_dir or ctx.source_dir
    if rule.kind in ("fileName", "glob"):
        hit = match_paths(rule, tree_paths(app_dir, rule_depth(rule)))
        return None if hit is None else f"{hit} matches discover.{'fileName' if rule.kind == 'fileName' else 'find.glob'}"
    if rule.kind == "command":
        assert rule.command is not None
        env = plugin_env(ctx)
        try:
            result = _with_secrets(ctx, env).run(rule.command.argv, cwd=app_dir, env=env, what=f"plugin {cfg.plugin_name} discover")
        except ToolError:
            return None  # Argo CD: a failing find command means "not supported"
        if result.stdout.strip():
            return "discover.find.command printed output"
    return None


# -- generate -------------------------------------------------------------------------------


def plugin_env(ctx: RenderContext) -> dict[str, str]:
    """The variables a CMP command gets on top of the pass-through set (see ``buildenv``)."""
    plugin = ctx.source.plugin
    entries = [(e.name, e.value) for e in plugin.env] if plugin else []
    params = [p.model_dump(exclude_none=True) for p in plugin.parameters] if plugin else []
    return cmp_env(ctx.build_env(), ctx.kube_version, ctx.api_versions, entries, params)


def _with_secrets(ctx: RenderContext, env: dict[str, str]) -> RenderContext:
    """The context whose ``run`` redacts every ``ARGOCD_ENV_*`` value from error messages."""
    return dataclasses.replace(ctx, secrets=(*ctx.secrets, *secret_values(env)))


def reset_modes(root: Path) -> None:
    """Make every file non-executable (``0644``), as Argo CD does unless ``preserveFileMode``."""
    for dirpath, _dirs, filenames in os.walk(root):
        for name in filenames:
            full = os.path.join(dirpath, name)
            if not os.path.islink(full):
                os.chmod(full, 0o644)


def run_generate(
    ctx: RenderContext, cfg: PluginConfig, work_dir: Path, *, extra_env: dict[str, str] | None = None
) -> bytes:
    """Run init then generate in ``work_dir`` (a private copy of the app dir); return generate's stdout.

    Raises ToolError (exit code, stderr tail with ARGOCD_ENV_* values
    redacted, timeout, output cap) or ManifestError when nothing was printed.
    """
    env = {**(extra_env or {}), **plugin_env(ctx)}
    rctx = _with_secrets(ctx, env)
    label = f"plugin {cfg.plugin_name}"
    if cfg.init is not None:
        rctx.run(cfg.init.argv, cwd=work_dir, env=env, what=f"{label} init")
    result = rctx.run(cfg.generate.argv, cwd=work_dir, env=env, what=f"{label} generate")
    if not result.stdout.strip():
        tail = f"; stderr: {result.stderr}" if result.stderr else ""
        raise ManifestError(f"generate printed nothing on stdout (it must print YAML or JSON objects){tail}", context=label)
    return result.stdout


def generate(
    ctx: RenderContext, cfg: PluginConfig, work_dir: Path, *, extra_env: dict[str, str] | None = None
) -> list[dict[str, Any]]:
    """``run_generate`` and parse its output (YAML or JSON objects); never partial."""
    out = run_generate(ctx, cfg, work_dir, extra_env=extra_env)
    return ctx.parse(out, f"plugin {cfg.plugin_name} generate output")


def announcements(
    ctx: RenderContext, cfg: PluginConfig, work_dir: Path, *, extra_env: dict[str, str] | None = None
) -> list[dict[str, Any]]:
    """Static parameter announcements followed by the dynamic command's (JSON list) output."""
    out = [dict(p) for p in cfg.static_parameters]
    if cfg.dynamic_parameters is None:
        return out
    env = {**(extra_env or {}), **plugin_env(ctx)}
    label = f"plugin {cfg.plugin_name} parameters.dynamic"
    result = _with_secrets(ctx, env).run(cfg.dynamic_parameters.argv, cwd=work_dir, env=env, what=label)
    try:
        dynamic = json.loads(result.stdout or b"[]")
    except json.JSONDecodeError as e:
        raise RenderError(f"output is not JSON: {e.msg} at line {e.lineno}", context=label) from None
    if not isinstance(dynamic, list) or not all(isinstance(d, dict) and isinstance(d.get("name"), str) for d in dynamic):
        raise RenderError("output must be a JSON list of announcements, each with a name", context=label)
    return out + dynamic


def source_parameters(ctx: RenderContext) -> list[dict[str, Any]]:
    """The parameters the Application sets, in ``ARGOCD_APP_PARAMETERS`` shape (for display)."""
    plugin = ctx.source.plugin
    return parameters_to_json([p.model_dump(exclude_none=True) for p in plugin.parameters]) if plugin else []
