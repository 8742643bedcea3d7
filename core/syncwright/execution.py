"""Running external tools: argv only, timeouts, output caps, scrubbed env.

This is the one way syncwright (and every plugin, through ``RenderContext.run``)
starts a process. Why hand-written rather than ``subprocess.run``: we need a
byte cap on stdout that kills the tool as soon as it is exceeded (a flooding
tool must not exhaust memory), a kill of the whole process group on timeout
(tools such as helm spawn children), and stderr kept as a bounded tail.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import metrics
from .errors import ToolError, ToolNotFoundError

DEFAULT_TIMEOUT = float(os.environ.get("SYNCWRIGHT_EXEC_TIMEOUT", "90"))  # Argo CD: 90 s
FATAL_GRACE = 10.0  # SIGTERM, then SIGKILL after this many seconds (Argo CD: 10 s)
DEFAULT_MAX_OUTPUT = int(os.environ.get("SYNCWRIGHT_MAX_TOOL_OUTPUT", str(100 * 1024 * 1024)))
STDERR_TAIL = 64 * 1024

# Variables a tool may inherit from syncwright's own environment. Everything else
# (cloud credentials, tokens, the user's kube context) is dropped.
PASSTHROUGH_ENV = (
    "PATH", "HOME", "USER", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR",
    "SSL_CERT_FILE", "SSL_CERT_DIR", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY",
    "http_proxy", "https_proxy", "no_proxy",
)


@dataclass(frozen=True)
class ToolResult:
    """The outcome of a successful tool run."""

    argv: tuple[str, ...]
    stdout: bytes
    stderr: str
    duration: float


def scrubbed_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment a tool gets: a small pass-through set plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if k in PASSTHROUGH_ENV}
    if extra:
        env.update(extra)
    return env


def redact(text: str, secrets: Sequence[str]) -> str:
    """Replace every secret value (longest first) in ``text`` with ``******``."""
    for secret in sorted({s for s in secrets if s and len(s) >= 3}, key=len, reverse=True):
        text = text.replace(secret, "******")
    return _URL_CREDS.sub(r"\1******@", text)


_URL_CREDS = re.compile(r"((?:https?|git|ssh)://)[^/@\s:]+(?::[^/@\s]*)?@")


def redact_url(url: str) -> str:
    """``https://user:secret@host/r.git`` → ``https://******@host/r.git``: safe to print or label."""
    return _URL_CREDS.sub(r"\1******@", url)


def _tail(data: bytes, limit: int = 4000) -> str:
    text = data.decode("utf-8", errors="replace").strip()
    return text if len(text) <= limit else "..." + text[-limit:]


def run(
    argv: Sequence[str],
    *,
    cwd: Path | str | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
    max_output: int | None = None,
    stdin: bytes | None = None,
    secrets: Sequence[str] = (),
    what: str | None = None,
) -> ToolResult:
    """Run ``argv`` (never through a shell) and return its output.

    Raises ToolError with the exit code and the tail of stderr on failure, when
    the timeout passes (the process group is terminated, then killed), or when
    stdout grows past ``max_output`` bytes. ``secrets`` are redacted from every
    message. ``env`` is the complete environment (see ``scrubbed_env``).
    """
    if isinstance(argv, str):  # pragma: no cover - programming error
        raise TypeError("run() takes an argv list, never a shell string")
    argv = [str(a) for a in argv]
    timeout = DEFAULT_TIMEOUT if timeout is None else timeout
    max_output = DEFAULT_MAX_OUTPUT if max_output is None else max_output
    label = what or Path(argv[0]).name
    tool = Path(argv[0]).name  # the metric label: never ``what``, which may name an app
    start = time.monotonic()
    try:
        proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env=dict(env) if env is not None else scrubbed_env(),
            stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
    except FileNotFoundError as e:
        metrics.tool_ran(tool, failed=True)
        raise ToolNotFoundError(f"{label}: executable {argv[0]!r} not found") from e
    except PermissionError as e:
        metrics.tool_ran(tool, failed=True)
        raise ToolError(f"{label}: cannot execute {argv[0]!r}: {e.strerror}") from e

    out_chunks: list[bytes] = []
    err_buf = bytearray()
    state: dict[str, Any] = {"out": 0, "flooded": False, "timed_out": False}

    def read_out() -> None:
        assert proc.stdout is not None
        stream: Any = proc.stdout  # a BufferedReader: read1 returns what is available
        while chunk := stream.read1(65536):
            state["out"] += len(chunk)
            if state["out"] > max_output:
                state["flooded"] = True
                _kill_group(proc)
                break
            out_chunks.append(chunk)
        proc.stdout.close()

    def read_err() -> None:
        assert proc.stderr is not None
        stream: Any = proc.stderr
        while chunk := stream.read1(65536):
            err_buf.extend(chunk)
            if len(err_buf) > STDERR_TAIL:
                del err_buf[: len(err_buf) - STDERR_TAIL]
        proc.stderr.close()

    readers = [threading.Thread(target=read_out, daemon=True), threading.Thread(target=read_err, daemon=True)]
    for t in readers:
        t.start()
    if stdin is not None:
        assert proc.stdin is not None
        try:
            proc.stdin.write(stdin)
            proc.stdin.close()
        except BrokenPipeError:
            pass
    # A timer kills the tool at the deadline; waiting on the readers (EOF) and
    # then on the process avoids Popen.wait(timeout)'s sleep-polling, which
    # adds up to 50 ms to every run.
    def on_timeout() -> None:
        state["timed_out"] = True
        _terminate_group(proc)

    killer = threading.Timer(timeout, on_timeout)
    killer.daemon = True
    killer.start()
    try:
        for t in readers:
            t.join()
        proc.wait()
    finally:
        killer.cancel()
    timed_out = bool(state["timed_out"])
    duration = time.monotonic() - start
    stderr = redact(_tail(bytes(err_buf)), secrets)
    metrics.tool_ran(tool, failed=timed_out or bool(state["flooded"]) or proc.returncode != 0)
    if timed_out:
        raise ToolError(f"{label} timed out after {timeout:g}s and was killed")
    if state["flooded"]:
        raise ToolError(f"{label} wrote more than {max_output} bytes to stdout and was killed (output cap)")
    if proc.returncode != 0:
        detail = f": {stderr}" if stderr else ""
        raise ToolError(f"{label} failed with exit code {proc.returncode}{detail}")
    return ToolResult(tuple(argv), b"".join(out_chunks), stderr, duration)


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _terminate_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the tool's process group; SIGKILL it if still there after the grace period."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        return
    try:
        proc.wait(timeout=FATAL_GRACE)
    except subprocess.TimeoutExpired:
        pass
    _kill_group(proc)  # also reaps children that ignored SIGTERM and keep the pipes open


@dataclass(frozen=True)
class ToolBinary:
    """Where a plugin's external tool lives, or how to get it."""

    name: str
    path: str | None
    env_var: str
    install_hint: str

    def require(self) -> str:
        """The binary path, or ToolNotFoundError with the install hint."""
        if self.path is None:
            raise ToolNotFoundError(
                f"{self.name} not found (looked at ${self.env_var} and PATH); {self.install_hint}"
            )
        return self.path


def find_tool(name: str, env_var: str, install_hint: str) -> ToolBinary:
    """Locate ``name``: ``$env_var``, else the running environment's ``bin/``, else PATH.

    The environment's own ``bin/`` comes before PATH so that the pinned tools
    ``make tools`` installs next to syncwright win over older system copies,
    whether or not the virtualenv is activated.
    """
    explicit = os.environ.get(env_var)
    if explicit:
        path = explicit if os.access(explicit, os.X_OK) else shutil.which(explicit)
        return ToolBinary(name, path, env_var, install_hint)
    import sys

    candidate = Path(sys.executable).parent / name
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return ToolBinary(name, str(candidate), env_var, install_hint)
    return ToolBinary(name, shutil.which(name), env_var, install_hint)
