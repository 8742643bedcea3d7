"""Plugin loading and the hook facade, with fake entry points (nothing installed)."""

from __future__ import annotations

import sys
import types
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest

from syncwright.api import (
    Discovered, OperationVetoed, RenderContext, Rendered, SourceType, SourceTypes, SyncEvent, hookimpl,
)
from syncwright.errors import PluginError, RenderError
from syncwright.model import Source
from syncwright.plugins import Hooks, get_plugin_manager


def make_module(name: str, **attrs: Any) -> str:
    mod = types.ModuleType(name)
    for k, v in attrs.items():
        setattr(mod, k, v)
    sys.modules[name] = mod
    return name


def ep(name: str, module: str) -> metadata.EntryPoint:
    return metadata.EntryPoint(name=name, value=module, group="syncwright")


def ctx(tmp_path: Path) -> RenderContext:
    return RenderContext(app_name="a", app_namespace="n", source=Source(repo_url=""), source_dir=tmp_path, repo_root=tmp_path)


def claim(tool: str, priority: int) -> Any:
    @hookimpl
    def syncwright_discover(ctx: RenderContext) -> Discovered:
        return Discovered(tool, priority)

    return syncwright_discover


def test_core_works_without_plugins(tmp_path: Path) -> None:
    hooks = Hooks.load(entry_points=[])
    assert hooks.source_types() == [] and [p for p in hooks.plugins() if not p.builtin] == []
    assert {p.name for p in hooks.plugins()} == {"syncwright.health.builtin", "syncwright.health.user"}
    assert hooks.discover(ctx(tmp_path)) is None
    with pytest.raises(RenderError, match="no source plugins installed"):
        hooks.render(ctx(tmp_path))


def test_entry_point_plugins_load_and_announce(tmp_path: Path) -> None:
    @hookimpl
    def syncwright_source_types() -> SourceTypes:
        return SourceTypes((SourceType("fake", "a fake tool"),))

    mod = make_module("sw_fake_a", syncwright_source_types=syncwright_source_types)
    hooks = Hooks.load(entry_points=[ep("fake", mod)])
    assert [t.name for t in hooks.source_types()] == ["fake"]
    third_party = [p for p in hooks.plugins() if not p.builtin]
    assert [p.name for p in third_party] == ["fake"]
    assert third_party[0].hooks == ("syncwright_source_types",)


def test_import_error_names_plugin() -> None:
    with pytest.raises(PluginError, match=r'Error importing plugin "broken": ModuleNotFoundError'):
        get_plugin_manager(entry_points=[ep("broken", "sw_no_such_module_xyz")])


def test_misspelled_hook_is_an_error() -> None:
    @hookimpl
    def syncwright_rendr(ctx: Any) -> None:  # misspelled on purpose
        return None

    mod = make_module("sw_fake_typo", syncwright_rendr=syncwright_rendr)
    with pytest.raises(PluginError, match="syncwright_rendr"):
        get_plugin_manager(entry_points=[ep("typo", mod)])


def test_user_controls_loading(monkeypatch: pytest.MonkeyPatch) -> None:
    a = make_module("sw_fake_la", syncwright_discover=claim("a", 1))
    b = make_module("sw_fake_lb", syncwright_discover=claim("b", 2))
    eps = [ep("a", a), ep("b", b)]

    def names(**kw: Any) -> set[str]:
        return {p.name for p in Hooks.load(entry_points=eps, **kw).plugins() if not p.builtin}

    assert names() == {"a", "b"}
    assert names(disabled=["a"]) == {"b"}
    monkeypatch.setenv("SYNCWRIGHT_LOAD_PLUGINS", "b")
    assert names() == {"b"}
    monkeypatch.delenv("SYNCWRIGHT_LOAD_PLUGINS")
    monkeypatch.setenv("SYNCWRIGHT_DISABLE_PLUGIN_AUTOLOAD", "1")
    assert names() == set()
    # built-ins can be blocked like any plugin
    assert "syncwright.health.builtin" not in {
        p.name for p in Hooks.load(entry_points=eps, disabled=["syncwright.health.builtin"]).plugins()}


@pytest.mark.parametrize("order", [("helm", "dir"), ("dir", "helm")])
def test_discovery_precedence_is_data_not_registration_order(tmp_path: Path, order: tuple[str, str]) -> None:
    mods = {"helm": make_module("sw_fake_helm", syncwright_discover=claim("helm", 100)),
            "dir": make_module("sw_fake_dir", syncwright_discover=claim("directory", 1000))}
    hooks = Hooks.load(entry_points=[ep(n, mods[n]) for n in order])
    found = hooks.discover(ctx(tmp_path))
    assert found is not None and found.tool == "helm"
    only_dir = hooks.discover(ctx(tmp_path), allowed=lambda t: t == "directory")
    assert only_dir is not None and only_dir.tool == "directory"


def test_render_is_first_result(tmp_path: Path) -> None:
    @hookimpl
    def syncwright_render(ctx: RenderContext) -> Rendered | None:
        return Rendered((), tool="x") if ctx.tool == "x" else None

    hooks = Hooks.load(entry_points=[ep("x", make_module("sw_fake_r", syncwright_render=syncwright_render))])
    from dataclasses import replace

    assert hooks.render(replace(ctx(tmp_path), tool="x")).tool == "x"
    with pytest.raises(RenderError, match="no plugin renders tool 'y'"):
        hooks.render(replace(ctx(tmp_path), tool="y"))


def test_sync_hook_veto_only_at_start() -> None:
    seen: list[str] = []

    @hookimpl
    def syncwright_sync_hook(event: SyncEvent) -> None:
        seen.append(event.kind)
        if event.kind == "start":
            raise OperationVetoed("change freeze")
        raise RuntimeError("observer bug")

    hooks = Hooks.load(entry_points=[ep("veto", make_module("sw_fake_v", syncwright_sync_hook=syncwright_sync_hook))])
    with pytest.raises(OperationVetoed, match="change freeze"):
        hooks.sync_event(SyncEvent("start", "app", "op1"))
    hooks.sync_event(SyncEvent("resource", "app", "op1"))  # swallowed
    assert seen == ["start", "resource"]


def test_health_hook_first_result() -> None:
    from syncwright.api import HealthContext, HealthStatus

    @hookimpl(tryfirst=True)
    def syncwright_health(obj: dict[str, Any], ctx: HealthContext) -> HealthStatus | None:
        return HealthStatus("Healthy", "custom") if obj.get("kind") == "Widget" else None

    hooks = Hooks.load(entry_points=[ep("h", make_module("sw_fake_h", syncwright_health=syncwright_health))])
    assert hooks.health({"kind": "Widget"}, HealthContext()) == HealthStatus("Healthy", "custom")
    assert hooks.health({"kind": "Other"}, HealthContext()) is None
