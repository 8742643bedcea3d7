"""Where Lua customizations come from and which one applies: directories, argocd-cm keys, precedence."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from syncwright.api import HealthStatus
from syncwright.errors import SpecError
from syncwright.health import LuaHealthPlugin, assess, load_customizations
from syncwright.health.customizations import Customization, Customizations, load_directory, load_settings
from syncwright.plugins import Hooks

FIXTURES = Path(__file__).parent / "fixtures"
CUSTOM = FIXTURES / "customizations"
SETTINGS = FIXTURES / "settings" / "argocd-cm.yaml"


def obj(api_version: str, kind: str, **extra: Any) -> dict[str, Any]:
    return {"apiVersion": api_version, "kind": kind, "metadata": {"name": "x", "namespace": "ns"}, **extra}


def test_directory_layout_exact_core_and_wildcard() -> None:
    c = load_directory(CUSTOM)
    assert sorted(x.pattern for x in c.directory) == [
        "*.crossplane.io/*", "ConfigMap", "apps/Deployment", "cert-manager.io/Certificate"]
    found = c.lookup("cert-manager.io", "Certificate")
    assert found is not None and found.source.endswith("cert-manager.io/Certificate/health.lua")
    assert c.lookup("", "ConfigMap") is not None
    wild = c.lookup("rds.aws.crossplane.io", "DBInstance")
    assert wild is not None and wild.pattern == "*.crossplane.io/*"
    assert c.lookup("crossplane.io", "Thing") is None  # `_.crossplane.io` needs a subdomain
    assert c.lookup("", "Secret") is None
    assert c.lookup("apps", "StatefulSet") is None


def test_directory_testdata_and_deeper_files_are_not_customizations(tmp_path: Path) -> None:
    (tmp_path / "a.io" / "Kind" / "testdata" / "x").mkdir(parents=True)
    (tmp_path / "a.io" / "Kind" / "testdata" / "x" / "health.lua").write_text("return nil")
    assert not load_directory(tmp_path)


def test_settings_keys_block_and_precedence() -> None:
    c = load_settings(SETTINGS)
    patterns = {x.pattern: x for x in c.settings}
    assert set(patterns) == {"cert-manager.io/Certificate", "ConfigMap", "*.crossplane.io/*", "*.example.com/*"}
    # the per-key setting replaces the same key in the block, as in Argo CD
    assert "per-key" in patterns["cert-manager.io/Certificate"].script
    assert patterns["ConfigMap"].source.endswith("resource.customizations.health.ConfigMap")


def test_settings_all_means_every_kind_and_a_plain_mapping_works(tmp_path: Path) -> None:
    f = tmp_path / "settings.yaml"
    f.write_text('resource.customizations.health.all: "return nil"\nother.key: x\n')
    c = load_settings(f)
    assert [x.pattern for x in c.settings] == ["*/*"]
    assert c.lookup("apps", "Deployment") is not None and c.lookup("", "Pod") is None


def test_lookup_order_settings_then_directory_exact_before_wildcard() -> None:
    c = load_customizations([CUSTOM], [SETTINGS])
    hit = c.lookup("cert-manager.io", "Certificate")
    assert hit is not None and "per-key" in hit.script  # settings beat the directory
    hit = c.lookup("apps", "Deployment")
    assert hit is not None and hit.source.endswith("apps/Deployment/health.lua")  # only in the directory
    # exact beats wildcard within a tier; among wildcards the most specific wins
    tier = Customizations(settings=[
        Customization("*/*", "a", "1"), Customization("*.io/*", "b", "2"),
        Customization("*.example.io/*", "c", "3"), Customization("x.example.io/Kind", "d", "4"),
    ])
    assert tier.lookup("x.example.io", "Kind").script == "d"  # type: ignore[union-attr]
    assert tier.lookup("y.example.io", "Kind").script == "c"  # type: ignore[union-attr]
    assert tier.lookup("y.other.io", "Kind").script == "b"  # type: ignore[union-attr]
    assert tier.lookup("apps", "Deployment").script == "a"  # type: ignore[union-attr]


@pytest.mark.parametrize(("content", "message"), [
    ("resource.customizations: '[not: a mapping'\n", "invalid YAML"),
    ("resource.customizations: |\n  - a list\n", "expected a mapping of <group>/<kind> to overrides"),
    ("resource.customizations.health.apps_Deployment: 42\n", "is not a string (a Lua script)"),
    ("- just\n- a list\n", "expected a ConfigMap or a mapping of argocd-cm keys"),
])
def test_bad_settings_are_clear_errors(tmp_path: Path, content: str, message: str) -> None:
    f = tmp_path / "cm.yaml"
    f.write_text(content)
    with pytest.raises(SpecError, match=re.escape(message)) as err:
        load_settings(f)
    assert str(f) in str(err.value)


def test_missing_directory_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="does not exist"):
        load_directory(tmp_path / "nope")


def test_user_lua_beats_builtin_through_the_plugin_manager() -> None:
    plugin = LuaHealthPlugin(load_customizations([CUSTOM]))
    hooks = Hooks.load(entry_points=[], extra_plugins=[plugin])
    maintenance = obj("apps/v1", "Deployment", spec={"paused": True})
    maintenance["metadata"]["annotations"] = {"example.com/maintenance": "true"}
    assert assess(maintenance, hooks) == HealthStatus("Suspended", "in maintenance since 1970")
    # the script returns nil for other Deployments: as in Argo CD that is "no health",
    # and the built-in check is NOT consulted
    assert assess(obj("apps/v1", "Deployment", spec={"paused": True}), hooks) is None
    # without the customization the built-in decides
    plain = Hooks.load(entry_points=[])
    assert assess(obj("apps/v1", "Deployment", spec={"paused": True}), plain) == HealthStatus(
        "Suspended", "Deployment is paused")
    # a wildcard directory applies to any crossplane group and kind
    assert assess(obj("pkg.crossplane.io/v1", "Provider"), hooks) == HealthStatus(
        "Progressing", "Waiting for the resource to be created")
    # a customization for a CR with a Ready condition replaces the generic Ready check
    cert = obj("cert-manager.io/v1", "Certificate", status={"conditions": [
        {"type": "Issuing", "status": "True", "message": "issuing"}, {"type": "Ready", "status": "True"}]})
    assert assess(cert, hooks) == HealthStatus("Progressing", "issuing")
    assert assess(cert, plain) == HealthStatus("Healthy", "")


def test_lua_errors_in_customizations_become_unknown(tmp_path: Path) -> None:
    d = tmp_path / "example.com" / "Widget"
    d.mkdir(parents=True)
    (d / "health.lua").write_text("return obj.status.phase.x")
    hooks = Hooks.load(entry_points=[], extra_plugins=[LuaHealthPlugin(load_customizations([tmp_path]))])
    health = assess(obj("example.com/v1", "Widget"), hooks)
    assert health is not None and health.status == "Unknown"
    assert "example.com/Widget/health.lua:1: attempt to index field 'status' (a nil value)" in health.message


def test_environment_configures_the_default_plugin(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    shutil.copytree(CUSTOM, tmp_path / "c")
    hooks = Hooks.load(entry_points=[])
    cm = obj("v1", "ConfigMap", data={"ready": "true"})
    assert assess(cm, hooks) is None
    monkeypatch.setenv("SYNCWRIGHT_HEALTH_CUSTOMIZATIONS", str(tmp_path / "c"))
    assert assess(cm, hooks) == HealthStatus("Healthy", "ready flag set")
    monkeypatch.setenv("SYNCWRIGHT_HEALTH_SETTINGS", str(SETTINGS))
    assert assess(cm, hooks) == HealthStatus("Degraded", "core key")  # settings beat the directory
    # an explicit plugin (CLI flag, controller config) is consulted before the environment's
    explicit = LuaHealthPlugin(Customizations(settings=[Customization("ConfigMap", 'return {status="Missing"}', "t")]))
    hooks2 = Hooks.load(entry_points=[], extra_plugins=[explicit])
    assert assess(cm, hooks2) == HealthStatus("Missing", "")


def test_a_bad_environment_setting_makes_objects_unknown_not_crash(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SYNCWRIGHT_HEALTH_CUSTOMIZATIONS", str(tmp_path / "missing"))
    hooks = Hooks.load(entry_points=[])
    for _ in range(2):
        health = assess(obj("v1", "ConfigMap"), hooks)
        assert health is not None and health.status == "Unknown"
        assert "health customizations directory does not exist" in health.message
