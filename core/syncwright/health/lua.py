"""Run Argo CD health scripts (``health.lua``) in a sandboxed Lua 5.1.

Argo CD runs health scripts in gopher-lua, a Lua 5.1. We use lupa's
``lupa.lua51`` (real PUC Lua 5.1.5), so ``table.getn``, ``unpack``, ``#`` on
tables and number formatting behave as scripts written for Argo CD expect.

What a script sees (as Argo CD gives it, minus anything that touches the host):
the global ``obj`` (the live object as a table; JSON nulls are absent keys,
nulls inside lists are dropped, every number is a Lua number), the base
functions, ``table``, ``string``, ``math``, a safe ``os`` holding only
``time``, ``date`` and ``clock``, and ``require`` that returns those libraries
by name. There is no ``io``, no ``debug``, no full ``os`` (no ``execute``,
``getenv``, ``remove``), no ``load``/``loadstring``/``loadfile``/``dofile``,
no ``package`` and no access to Python. Each run gets a fresh global table and
fresh copies of the libraries, so one script cannot change what the next sees.

Budgets: wall time (1 s by default, as Argo CD) enforced by an instruction
count hook that, once the deadline passes, fires on every instruction so a
script cannot swallow the timeout with ``pcall``; and memory (lupa's
``max_memory``, 64 MiB by default for the runtime). A time-out, memory
exhaustion, syntax error or runtime error is reported as ``Unknown`` with the
error as message, as Argo CD does. Scripts are compiled once and cached.

Not covered by the time budget: a single C library call that runs long (a
pathological ``string.find`` pattern); the memory cap bounds ``string.rep``.
"""

from __future__ import annotations

import datetime
import threading
import time
from collections.abc import Mapping
from typing import Any

import lupa.lua51 as lua51

from ..api import HEALTH_CODES, HealthStatus

DEFAULT_TIMEOUT = 1.0
DEFAULT_MAX_MEMORY = 64 * 1024 * 1024
#: Instructions between two deadline checks (~0.1 ms of Lua each).
HOOK_COUNT = 10_000

INVALID_STATUS = "Lua returned an invalid health status"
_TIMEOUT_SENTINEL = "syncwright: Lua time budget exceeded"
#: Lua truncates chunk names to 60 bytes; scripts get this short name and
#: messages get the real one (a full path) substituted back.
_CHUNK = "sw-health-script"


def _named(text: str, name: str) -> str:
    return text.replace(_CHUNK, name)

# Runs once per runtime. Captures what the sandbox needs, then removes from the
# real globals everything a script must not reach, and returns the functions
# Python drives: compile(code, name), prepare(chunk, obj, tick), clear hook.
_BOOTSTRAP = r"""
local loadstring, setfenv, sethook, getmetatable = loadstring, setfenv, debug.sethook, getmetatable
local pairs, error, type, xpcall = pairs, error, type, xpcall
local string, table, math = string, table, math
local safe_os = { time = os.time, date = os.date, clock = os.clock }
local base = {
  assert = assert, error = error, ipairs = ipairs, next = next, pairs = pairs, pcall = pcall,
  xpcall = xpcall, rawequal = rawequal, rawget = rawget, rawset = rawset, select = select,
  setmetatable = setmetatable, getmetatable = getmetatable, tonumber = tonumber,
  tostring = tostring, type = type, unpack = unpack, _VERSION = _VERSION,
  print = function(...) end,
}
string.dump = nil
getmetatable("").__metatable = false
for _, name in pairs({ "io", "os", "debug", "python", "package", "module", "require", "dofile",
                       "loadfile", "load", "loadstring", "setfenv", "getfenv", "newproxy",
                       "collectgarbage", "gcinfo", "coroutine" }) do
  _G[name] = nil
end

local function copy(t)
  local c = {}
  for k, v in pairs(t) do c[k] = v end
  return c
end

local function compile(code, chunkname)
  if string.byte(code, 1) == 27 then
    return false, chunkname .. ": binary (precompiled) Lua chunks are not accepted"
  end
  local chunk, err = loadstring(code, "=" .. chunkname)
  return chunk, err
end

local function prepare(chunk, obj, tick, count, sentinel)
  local libs = { string = copy(string), table = copy(table), math = copy(math), os = copy(safe_os) }
  local env = copy(base)
  for k, v in pairs(libs) do env[k] = v end
  env.obj = obj
  env._G = env
  env.require = function(name)
    local lib = libs[name]
    if lib == nil then
      error("module '" .. tostring(name) .. "' not found: health scripts may require only os, string, table, math", 2)
    end
    return lib
  end
  -- Lua 5.1 runs an xpcall handler with hooks off when the error came from a hook,
  -- so a handler must never run for the time-out (it could loop forever).
  env.xpcall = function(f, handler)
    return xpcall(f, function(e)
      if e == sentinel then return e end
      return handler(e)
    end)
  end
  setfenv(chunk, env)
  local expired = false
  local hook
  hook = function()
    if expired or tick() then
      if not expired then
        expired = true
        sethook(hook, "", 1)
      end
      error(sentinel, 0)
    end
  end
  sethook(hook, "", count)
end

-- sethook is returned as the C function itself: Python calls it directly, so no
-- Lua instruction runs (and trips the hook) on the way.
return compile, prepare, sethook
"""


class LuaScriptError(Exception):
    """A health script failed; the message is what Argo CD would report as ``Unknown``."""


def _to_lua_value(rt: Any, value: Any) -> Any:
    """Python (JSON-like) → Lua, as Argo CD's ``decodeValue``: nulls vanish, numbers are numbers."""
    if isinstance(value, Mapping):
        return rt.table_from({str(k): _to_lua_value(rt, v) for k, v in value.items() if v is not None})
    if isinstance(value, (list, tuple)):
        return rt.table_from([_to_lua_value(rt, v) for v in value if v is not None])
    if isinstance(value, bool) or isinstance(value, str):
        return value
    if isinstance(value, int):
        return value if -(2**53) <= value <= 2**53 else float(value)
    if isinstance(value, float):
        return value
    if isinstance(value, datetime.datetime):
        # YAML read from a file turns timestamps into datetimes; the API gives RFC 3339 strings.
        if value.tzinfo is not None:
            value = value.astimezone(datetime.timezone.utc).replace(tzinfo=None)
        return value.isoformat() + "Z"
    if isinstance(value, datetime.date):
        return value.isoformat()
    return str(value)


def _lookup(items: dict[Any, Any], key: str) -> tuple[bool, Any]:
    """Go's ``encoding/json`` matches struct fields case-insensitively; so do we (exact first)."""
    if key in items:
        return True, items[key]
    for k, v in items.items():
        if isinstance(k, str) and k.lower() == key:
            return True, v
    return False, None


def to_health(result: Any) -> HealthStatus:
    """A script's return value → HealthStatus, as Argo CD's ``ExecuteHealthLua``.

    ``nil``, an empty table, or a table that does not decode into
    ``{status, message}`` strings → ``HealthStatus("")`` (no health); a status
    that is not one of the six codes → ``Unknown`` "Lua returned an invalid
    health status"; any other type → LuaScriptError "expect table output from
    Lua script, not <type>".
    """
    if isinstance(result, tuple):  # several return values: Argo CD reads the top of the stack
        result = result[-1] if result else None
    if result is None:
        return HealthStatus("")
    kind = lua51.lua_type(result)
    if kind != "table":
        name = kind or {bool: "boolean", str: "string", int: "number", float: "number"}.get(type(result), "userdata")
        raise LuaScriptError(f"expect table output from Lua script, not {name}")
    items = dict(result.items())
    if not items or all(isinstance(k, (int, float)) and not isinstance(k, bool) for k in items):
        return HealthStatus("")  # encodes as a JSON array: Argo CD treats it as no status
    has_status, status = _lookup(items, "status")
    has_message, message = _lookup(items, "message")
    if (has_status and not isinstance(status, str)) or (has_message and not isinstance(message, str)):
        return HealthStatus("")  # a JSON type error: Argo CD treats it as no status
    if status not in HEALTH_CODES:
        return HealthStatus("Unknown", INVALID_STATUS)
    return HealthStatus(str(status), str(message) if has_message else "")


class LuaRunner:
    """One sandboxed Lua 5.1 runtime; thread-safe (runs are serialized), scripts compiled once."""

    def __init__(self, *, timeout: float = DEFAULT_TIMEOUT, max_memory: int = DEFAULT_MAX_MEMORY) -> None:
        self.timeout = timeout
        self.max_memory = max_memory
        self._lock = threading.RLock()
        self._cache: dict[tuple[str, str], Any] = {}
        self._rt = lua51.LuaRuntime(
            register_eval=False,
            register_builtins=False,
            unpack_returned_tuples=True,
            max_memory=max_memory,
            attribute_filter=self._deny_attributes,
        )
        self._compile, self._prepare, self._sethook = self._rt.execute(_BOOTSTRAP)
        self._rt.set_max_memory(0)
        self._deadline = 0.0

    @staticmethod
    def _deny_attributes(obj: Any, name: Any, is_setting: bool) -> Any:
        raise AttributeError("Python attributes are not accessible from health scripts")

    def _tick(self) -> bool:
        return time.monotonic() > self._deadline

    def compile(self, code: str, name: str) -> Any:
        """The compiled chunk for ``code`` (cached); a syntax error raises LuaScriptError."""
        key = (code, name)
        with self._lock:
            cached = self._cache.get(key)
            if cached is None:
                self._rt.set_max_memory(0)  # our own allocations are not the script's budget
                chunk, err = self._compile(code, _CHUNK)
                cached = chunk if chunk else LuaScriptError(f"syntax error: {_named(str(err), name)}")
                if len(self._cache) > 4096:
                    self._cache.clear()
                self._cache[key] = cached
        if isinstance(cached, LuaScriptError):
            raise cached
        return cached

    def run(self, code: str, obj: Mapping[str, Any], *, name: str = "health.lua") -> Any:
        """Run ``code`` with global ``obj``; return its (first) result as a lupa value.

        Raises LuaScriptError with a message naming the script for a syntax
        error, a runtime error, the time budget or the memory cap.

        The memory cap applies to the script only: the limit is lifted while
        syncwright itself talks to Lua (converting ``obj``, cleaning up), because
        Lua aborts the process on an allocation failure outside a protected call.
        """
        with self._lock:
            chunk = self.compile(code, name)
            rt = self._rt
            try:
                rt.set_max_memory(0)
                lua_obj = _to_lua_value(rt, obj)
                self._deadline = time.monotonic() + self.timeout
                self._prepare(chunk, lua_obj, self._tick, HOOK_COUNT, _TIMEOUT_SENTINEL)
                rt.set_max_memory(rt.get_memory_used() + self.max_memory)
                try:
                    return chunk()
                finally:
                    rt.set_max_memory(0)
                    self._sethook()
            except lua51.LuaMemoryError:
                rt.gccollect()
                raise LuaScriptError(
                    f"{name}: Lua memory limit exceeded ({self.max_memory // (1024 * 1024)} MiB)"
                ) from None
            except lua51.LuaError as e:
                rt.gccollect()
                text = str(e)
                if time.monotonic() > self._deadline or _TIMEOUT_SENTINEL in text:
                    raise LuaScriptError(
                        f"{name}: Lua script timed out (execution budget {self.timeout:g}s exceeded)"
                    ) from None
                raise LuaScriptError(_named(text, name)) from None

    def health(self, code: str, obj: Mapping[str, Any], *, name: str = "health.lua") -> HealthStatus:
        """Run a health script: its HealthStatus, or ``Unknown`` with the error as message."""
        try:
            with self._lock:  # read the result before another run reuses the runtime
                return to_health(self.run(code, obj, name=name))
        except LuaScriptError as e:
            return HealthStatus("Unknown", str(e))
