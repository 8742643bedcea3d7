"""The Lua sandbox: Argo CD's semantics for scripts, and bad scripts that must end as Unknown."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from syncwright.api import HealthStatus
from syncwright.health.lua import INVALID_STATUS, LuaRunner

BAD = Path(__file__).parent / "fixtures" / "lua-bad"
OBJ: dict[str, Any] = {
    "apiVersion": "example.com/v1", "kind": "Widget",
    "metadata": {"name": "w", "namespace": "ns", "labels": {"a": "1"}, "deletionGracePeriodSeconds": None},
    "spec": {"replicas": 3, "ratio": 0.5, "enabled": False, "items": ["a", None, "b"], "empty": {}},
}


@pytest.fixture(scope="module")
def runner() -> LuaRunner:
    return LuaRunner()


def run(runner: LuaRunner, code: str, obj: dict[str, Any] | None = None) -> HealthStatus:
    return runner.health(code, OBJ if obj is None else obj, name="test.lua")


@pytest.mark.parametrize(("code", "expected"), [
    ('hs = {} hs.status = "Healthy" hs.message = "ok" return hs', HealthStatus("Healthy", "ok")),
    ('return { status = "Degraded" }', HealthStatus("Degraded", "")),
    ('return { Status = "Suspended", MESSAGE = "Go decodes keys case-insensitively" }',
     HealthStatus("Suspended", "Go decodes keys case-insensitively")),
    ("return nil", HealthStatus("")),
    ("local x = 1", HealthStatus("")),
    ("return {}", HealthStatus("")),
    ('return { "Healthy" }', HealthStatus("")),
    ('return { status = "Healthy", message = 42 }', HealthStatus("")),
    ('return { status = "Fine" }', HealthStatus("Unknown", INVALID_STATUS)),
    ('return { message = "no status" }', HealthStatus("Unknown", INVALID_STATUS)),
    ('return "Healthy"', HealthStatus("Unknown", "expect table output from Lua script, not string")),
    ("return 1", HealthStatus("Unknown", "expect table output from Lua script, not number")),
    ("return true", HealthStatus("Unknown", "expect table output from Lua script, not boolean")),
    ('return { status = "Healthy" }, 2', HealthStatus("Unknown", "expect table output from Lua script, not number")),
    ('return 2, { status = "Healthy" }', HealthStatus("Healthy", "")),
])
def test_return_values_as_argo_cd(runner: LuaRunner, code: str, expected: HealthStatus) -> None:
    assert run(runner, code) == expected


def test_obj_is_converted_like_gopher_lua(runner: LuaRunner) -> None:
    code = """
    local s = obj.spec
    local parts = {
      tostring(s.replicas), tostring(s.replicas + 1), tostring(s.ratio), tostring(s.enabled),
      tostring(table.getn(s.items)), tostring(#s.items), s.items[2], tostring(obj.metadata.deletionGracePeriodSeconds),
      type(s.empty), obj.metadata.labels.a, string.upper(obj.kind), tostring(math.floor(7 / 2)),
      type(os.time()), os.date("!%Y-%m-%d", 86400), tostring(unpack({ "u" })),
    }
    return { status = "Healthy", message = table.concat(parts, ",") }
    """
    assert run(runner, code) == HealthStatus("Healthy", "3,4,0.5,false,2,2,b,nil,table,1,WIDGET,3,number,1970-01-02,u")


def test_lua_51_semantics(runner: LuaRunner) -> None:
    code = 'return { status = "Healthy", message = _VERSION .. " " .. tostring(10 / 2) .. " " .. type(setfenv) }'
    assert run(runner, code) == HealthStatus("Healthy", "Lua 5.1 5 nil")


def test_require_gives_the_safe_libraries_only(runner: LuaRunner) -> None:
    code = 'local os = require("os") return { status = "Healthy", message = type(os.time) .. type(os.execute) }'
    assert run(runner, code) == HealthStatus("Healthy", "functionnil")


def test_runs_do_not_leak_into_each_other(runner: LuaRunner) -> None:
    assert run(runner, 'leaked = "x" string.format = nil table.insert = nil return {}') == HealthStatus("")
    code = 'return { status = "Healthy", message = tostring(leaked) .. type(string.format) .. type(table.insert) }'
    assert run(runner, code) == HealthStatus("Healthy", "nilfunctionfunction")
    # the string metatable (shared by all strings) cannot be reached to tamper with
    assert run(runner, 'return { status = "Healthy", message = tostring(getmetatable("")) }') == HealthStatus(
        "Healthy", "false")
    assert run(runner, 'return { status = "Healthy", message = ("a"):rep(3) }') == HealthStatus("Healthy", "aaa")


def test_compiled_once(runner: LuaRunner) -> None:
    code = 'return { status = "Healthy", message = "cached" }'
    run(runner, code)
    chunk = runner.compile(code, "test.lua")
    run(runner, code)
    assert runner.compile(code, "test.lua") is chunk


@pytest.mark.parametrize(("script", "message"), [
    ("syntax.lua", "syntax error: "),
    ("read_file.lua", "attempt to index global 'io' (a nil value)"),
    ("os_execute.lua", "attempt to call field 'execute' (a nil value)"),
    ("require_io.lua", "module 'io' not found: health scripts may require only os, string, table, math"),
    ("dofile.lua", "attempt to call global 'dofile' (a nil value)"),
    ("loadstring.lua", "attempt to call global 'loadstring' (a nil value)"),
    ("python_escape.lua", "attempt to index global 'python' (a nil value)"),
    ("runtime_error.lua", "custom failure"),
    ("returns_string.lua", "expect table output from Lua script, not string"),
    ("huge_string.lua", "Lua memory limit exceeded (64 MiB)"),
    ("huge_table.lua", "Lua memory limit exceeded (64 MiB)"),
])
def test_bad_scripts_are_unknown_with_a_clear_message(runner: LuaRunner, script: str, message: str) -> None:
    path = BAD / script
    start = time.monotonic()
    health = runner.health(path.read_text(), OBJ, name=str(path))
    assert health.status == "Unknown"
    assert message in health.message
    assert time.monotonic() - start < 5
    # the runtime is still usable afterwards
    assert run(runner, 'return { status = "Healthy" }') == HealthStatus("Healthy", "")


def test_no_side_effects_escape(runner: LuaRunner, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    health = run(runner, f'os.execute("touch {marker}") return {{ status = "Healthy" }}')
    assert health.status == "Unknown" and not marker.exists()


@pytest.mark.parametrize("script", ["infinite_loop.lua", "pcall_loop.lua", "xpcall_loop.lua"])
def test_endless_scripts_time_out(script: str) -> None:
    runner = LuaRunner(timeout=0.3)
    path = BAD / script
    start = time.monotonic()
    health = runner.health(path.read_text(), OBJ, name=str(path))
    elapsed = time.monotonic() - start
    assert health == HealthStatus("Unknown", f"{path}: Lua script timed out (execution budget 0.3s exceeded)")
    assert 0.25 < elapsed < 2
    assert runner.health('return { status = "Healthy" }', OBJ) == HealthStatus("Healthy", "")


@pytest.mark.slow
def test_default_budget_is_argo_cds_one_second(runner: LuaRunner) -> None:
    start = time.monotonic()
    health = run(runner, "while true do end")
    assert health.status == "Unknown" and "timed out" in health.message
    assert 0.9 < time.monotonic() - start < 3


def test_concurrent_runs_are_serialized_and_correct(runner: LuaRunner) -> None:
    results: list[HealthStatus] = []
    code = 'local n = 0 for i = 1, 20000 do n = n + 1 end return { status = "Healthy", message = obj.metadata.name }'

    def work(i: int) -> None:
        for _ in range(20):
            results.append(runner.health(code, {"metadata": {"name": f"o{i}"}}))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 80
    assert {r.message for r in results} == {"o0", "o1", "o2", "o3"}


def test_yaml_timestamps_reach_lua_as_rfc3339_strings(runner: LuaRunner) -> None:
    import datetime

    obj = {"metadata": {"creationTimestamp": datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)}}
    code = 'return { status = "Healthy", message = obj.metadata.creationTimestamp }'
    assert runner.health(code, obj) == HealthStatus("Healthy", "2026-01-02T03:04:05Z")


def test_all_bad_scripts_in_one_runtime_never_abort_the_process() -> None:
    # Lua aborts the whole process on an allocation failure outside a protected call;
    # run every bad script back to back in one runtime in a child process to prove it cannot.
    import subprocess
    import sys

    code = (
        "import sys, pathlib\n"
        "from syncwright.health.lua import LuaRunner\n"
        "r = LuaRunner(timeout=0.2)\n"
        "for p in sorted(pathlib.Path(sys.argv[1]).glob('*.lua')) * 2:\n"
        "    h = r.health(p.read_text(), {'a': [1, {'b': 'c'}]}, name=p.name)\n"
        "    assert h.status == 'Unknown', (p.name, h)\n"
        "    assert r.health('return {status=\"Healthy\"}', {}) .status == 'Healthy'\n"
        "print('ok')\n"
    )
    res = subprocess.run([sys.executable, "-c", code, str(BAD)], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0 and res.stdout.strip() == "ok", res.stderr
