"""Evaluating Jsonnet files in a forked worker, so a runaway program can really be stopped.

The jsonnet bindings run in-process and cannot be interrupted: a thread that
times out keeps burning CPU and memory. So evaluation happens in a
``fork()``ed worker process that writes its results to a pipe; the parent
reads with a deadline and, at the timeout or when the output passes the cap,
SIGKILLs it. The worker also gets an address-space limit
(``SYNCWRIGHT_JSONNET_MAX_MEMORY``), so a memory bomb ends the worker instead
of taking the host down.

Why a long-lived worker: forking a large Python process, the copy-on-write
faults while the bindings run and the teardown at exit cost 5-15 ms per
render. The first render forks a worker that then serves renders one at a
time over a pipe (``_Worker``); it is replaced after a timeout, a flood or a
crash, and exits when the parent does (its request pipe reaches EOF). A
render that finds the worker busy (concurrent renders in threads) forks a
one-shot child instead, so renders never queue behind each other.

Inside the worker the working directory is the repo root and files are named
relative to it, so jsonnet's own messages ("STATIC ERROR:
app/main.jsonnet:3:5: ...") name repo-relative paths. Imports go through an
import callback with libjsonnet's search order (the importing file's
directory, then the library paths right-most first, as the CLI's ``-J``)
that refuses any file resolving outside the repo root.
"""

from __future__ import annotations

import json
import os
import select
import signal
import struct
import threading
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from syncwright.api import RenderError, ToolError

DEFAULT_MAX_MEMORY = 2 * 1024 * 1024 * 1024
_HEADER = struct.Struct(">cQ")
#: Frame types the worker writes: F = starting a file, O = its output, E = error, D = request done.
_START, _OUTPUT, _ERROR, _DONE = b"F", b"O", b"E", b"D"
#: Room for frame headers, file names and error text on top of the output cap.
_SLACK = 256 * 1024


@dataclass(frozen=True)
class EvalConfig:
    """Everything the worker needs; paths are relative to ``root`` (its working dir)."""

    root: Path
    jpaths: tuple[str, ...] = ()
    ext_vars: Mapping[str, str] = field(default_factory=dict)
    ext_codes: Mapping[str, str] = field(default_factory=dict)
    tla_vars: Mapping[str, str] = field(default_factory=dict)
    tla_codes: Mapping[str, str] = field(default_factory=dict)
    timeout: float = 90.0
    max_output: int = 100 * 1024 * 1024
    max_memory: int | None = DEFAULT_MAX_MEMORY


def max_memory_from_env() -> int | None:
    """``SYNCWRIGHT_JSONNET_MAX_MEMORY`` in bytes (0 = no limit), default 2 GiB."""
    raw = os.environ.get("SYNCWRIGHT_JSONNET_MAX_MEMORY", "")
    if not raw:
        return DEFAULT_MAX_MEMORY
    try:
        value = int(raw)
    except ValueError:
        raise RenderError(f"SYNCWRIGHT_JSONNET_MAX_MEMORY={raw!r} is not an integer") from None
    return value or None


def make_import_callback(root: Path, jpaths: Sequence[str]) -> Callable[[str, str], tuple[str, bytes]]:
    """A jsonnet import callback: libjsonnet's search order, confined to ``root``."""
    real_root = os.path.realpath(root)

    def callback(directory: str, rel: str) -> tuple[str, bytes]:
        if not rel:
            raise RuntimeError("the empty string is not a valid filename")
        for base in (directory, *reversed(jpaths)):
            candidate = os.path.join(base, rel)
            if not os.path.isfile(candidate):
                continue
            real = os.path.realpath(candidate)
            if real != real_root and not real.startswith(real_root + os.sep):
                raise RuntimeError(f"{rel!r} resolved to outside the repository root")
            with open(candidate, "rb") as fh:
                return os.path.normpath(candidate), fh.read()
        raise RuntimeError("no match locally or in the Jsonnet library paths")

    return callback


# --- worker side (runs in the forked process) ---------------------------------------------


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def _frame(kind: bytes, payload: bytes) -> bytes:
    return _HEADER.pack(kind, len(payload)) + payload


def _prepare_worker(max_memory: int | None, keep: Sequence[int]) -> None:
    """Make the forked process a clean worker.

    Drop every inherited file descriptor but ``keep`` (a server's listening
    socket or the CLI's stdout must not stay open in a long-lived worker),
    point stdio at /dev/null (libjsonnet prints fatal errors itself; the
    parent reports them), freeze the inherited objects so no collection
    finalises them, ignore Ctrl-C (the parent handles it), cap memory.
    """
    import gc

    gc.freeze()
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    lo = 3
    for fd in sorted(keep):
        os.closerange(lo, fd)
        lo = fd + 1
    os.closerange(lo, _max_fd())
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if not max_memory:
        return
    try:
        import resource

        with open("/proc/self/statm") as fh:
            current = int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
        resource.setrlimit(resource.RLIMIT_AS, (current + max_memory, current + max_memory))
    except (OSError, ValueError, ImportError):
        pass  # not Linux: no address-space cap, the timeout still holds


def _max_fd() -> int:
    try:
        return int(os.sysconf("SC_OPEN_MAX"))
    except (OSError, ValueError):  # pragma: no cover
        return 4096


def _evaluate_into(fd: int, files: Sequence[str], cfg: EvalConfig) -> None:
    """Evaluate ``files`` and write F/O frames, an E frame on the first error, then D."""
    import _jsonnet

    os.chdir(cfg.root)
    callback = make_import_callback(cfg.root, cfg.jpaths)
    total = 0
    for name in files:
        _write_all(fd, _frame(_START, name.encode()))
        try:
            text = _jsonnet.evaluate_file(
                name,
                ext_vars=dict(cfg.ext_vars),
                ext_codes=dict(cfg.ext_codes),
                tla_vars=dict(cfg.tla_vars),
                tla_codes=dict(cfg.tla_codes),
                import_callback=callback,
            )
        except RuntimeError as e:
            _write_all(fd, _frame(_ERROR, str(e).strip().encode()) + _frame(_DONE, b""))
            return
        except MemoryError:
            _write_all(fd, _frame(_ERROR, b"out of memory (limit SYNCWRIGHT_JSONNET_MAX_MEMORY)") + _frame(_DONE, b""))
            return
        data = text.encode()
        total += len(data)
        if total > cfg.max_output:
            msg = f"output is over the {cfg.max_output}-byte cap (output cap)".encode()
            _write_all(fd, _frame(_ERROR, msg) + _frame(_DONE, b""))
            return
        _write_all(fd, _frame(_OUTPUT, data))
    _write_all(fd, _frame(_DONE, b""))


def _read_exact(fd: int, n: int) -> bytes | None:
    buf = bytearray()
    while len(buf) < n:
        chunk = os.read(fd, n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return bytes(buf)


def _config_to_json(files: Sequence[str], cfg: EvalConfig) -> bytes:
    data: dict[str, Any] = asdict(cfg)
    data["root"] = str(cfg.root)
    data["files"] = list(files)
    return json.dumps(data).encode()


def _config_from_json(raw: bytes) -> tuple[list[str], EvalConfig]:
    data = json.loads(raw)
    files = data.pop("files")
    data["root"] = Path(data["root"])
    data["jpaths"] = tuple(data["jpaths"])
    return files, EvalConfig(**data)


def _worker_main(req_fd: int, resp_fd: int, max_memory: int | None) -> None:
    """The long-lived worker: serve requests until the parent closes the pipe. Never returns."""
    code = 0
    try:
        _prepare_worker(max_memory, (req_fd, resp_fd))
        while True:
            head = _read_exact(req_fd, 8)
            if head is None:
                break
            body = _read_exact(req_fd, struct.unpack(">Q", head)[0])
            if body is None:
                break
            files, cfg = _config_from_json(body)
            try:
                _evaluate_into(resp_fd, files, cfg)
            except Exception as e:  # noqa: BLE001 - e.g. the root vanished: report, keep serving
                msg = f"internal error: {type(e).__name__}: {e}".encode()
                _write_all(resp_fd, _frame(_ERROR, msg) + _frame(_DONE, b""))
    except BaseException:  # noqa: BLE001 - the worker must never unwind into the parent's code
        code = 70
    finally:
        os._exit(code)


def _one_shot_main(resp_fd: int, files: Sequence[str], cfg: EvalConfig) -> None:
    code = 0
    try:
        _prepare_worker(cfg.max_memory, (resp_fd,))
        _evaluate_into(resp_fd, files, cfg)
    except BaseException:  # noqa: BLE001
        code = 70
    finally:
        os._exit(code)


def _fork() -> int:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # 3.12+: fork with threads
        return os.fork()


# --- parent side ---------------------------------------------------------------------------


class _Response:
    """Reads one request's frames with a deadline and a byte cap."""

    def __init__(self, fd: int, timeout: float, limit: int) -> None:
        self.fd, self.limit = fd, limit
        self.deadline = time.monotonic() + timeout
        self.buf = bytearray()
        self.frames: list[tuple[bytes, bytes]] = []
        self._pos = 0
        self.done = False

    def read(self) -> str | None:
        """Read until the D frame; None on success, else "timeout", "flood" or "eof"."""
        while not self.done:
            remaining = self.deadline - time.monotonic()
            if remaining <= 0:
                return "timeout"
            ready, _, _ = select.select([self.fd], [], [], remaining)
            if not ready:
                continue
            chunk = os.read(self.fd, 1 << 20)
            if not chunk:
                return "eof"
            self.buf += chunk
            if len(self.buf) > self.limit:
                return "flood"
            self._parse()
        return None

    def _parse(self) -> None:
        buf = self.buf
        while self._pos + _HEADER.size <= len(buf):
            kind, length = _HEADER.unpack_from(buf, self._pos)
            start = self._pos + _HEADER.size
            if start + length > len(buf):
                return
            self.frames.append((kind, bytes(buf[start : start + length])))
            self._pos = start + length
            if kind == _DONE:
                self.done = True
                return


class _Worker:
    """The long-lived evaluation process of this (parent) process."""

    def __init__(self, max_memory: int | None) -> None:
        req_r, self.req_w = os.pipe()
        self.resp_r, resp_w = os.pipe()
        self.max_memory = max_memory
        self.owner = os.getpid()
        pid = _fork()
        if pid == 0:  # pragma: no cover - runs in the worker
            os.close(self.req_w)
            os.close(self.resp_r)
            _worker_main(req_r, resp_w, max_memory)
        self.pid = pid
        os.close(req_r)
        os.close(resp_w)

    def send(self, files: Sequence[str], cfg: EvalConfig) -> bool:
        body = _config_to_json(files, cfg)
        try:
            _write_all(self.req_w, struct.pack(">Q", len(body)) + body)
            return True
        except OSError:  # the worker is gone (EPIPE)
            return False

    def stop(self, *, kill: bool) -> int:
        """Close the pipes, kill if asked, reap; the exit status."""
        for fd in (self.req_w, self.resp_r):
            try:
                os.close(fd)
            except OSError:
                pass
        if kill:
            _kill(self.pid)
        try:
            return os.waitpid(self.pid, 0)[1]
        except ChildProcessError:
            return 0


_lock = threading.Lock()
_worker: _Worker | None = None


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _current_file(frames: list[tuple[bytes, bytes]], files: Sequence[str]) -> str:
    started = [payload.decode() for kind, payload in frames if kind == _START]
    return started[-1] if started else (files[0] if files else "?")


def _result(resp: _Response, failure: str | None, status: int, files: Sequence[str], cfg: EvalConfig) -> list[str]:
    current = _current_file(resp.frames, files)
    if failure == "timeout":
        raise ToolError(f"jsonnet evaluation of {current} timed out after {cfg.timeout:g}s and was killed")
    if failure == "flood":
        raise ToolError(f"jsonnet output of {current} is over the {cfg.max_output}-byte cap (output cap); evaluation killed")
    outputs: list[str] = []
    for kind, payload in resp.frames:
        if kind == _ERROR:
            raise ToolError(f"jsonnet evaluation of {current} failed: {payload.decode(errors='replace')}")
        if kind == _OUTPUT:
            outputs.append(payload.decode())
    if failure == "eof" or len(outputs) != len(files):
        if os.WIFSIGNALED(status):
            why = f"was killed by signal {os.WTERMSIG(status)}"
        else:
            why = f"ended with exit code {os.waitstatus_to_exitcode(status)}"
        raise ToolError(
            f"jsonnet evaluation of {current} {why} without a result "
            "(out of memory? limit SYNCWRIGHT_JSONNET_MAX_MEMORY)"
        )
    return outputs


def _via_worker(files: Sequence[str], cfg: EvalConfig) -> list[str]:
    """Evaluate in the long-lived worker (caller holds ``_lock``)."""
    global _worker
    if _worker is not None and _worker.owner != os.getpid():
        _worker = None  # inherited through a fork: it belongs to our parent, leave it alone
    if _worker is not None and _worker.max_memory != cfg.max_memory:
        _worker.stop(kill=True)
        _worker = None
    if _worker is None or not _worker.send(files, cfg):
        if _worker is not None:
            _worker.stop(kill=True)
        _worker = _Worker(cfg.max_memory)
        if not _worker.send(files, cfg):
            _worker.stop(kill=True)
            _worker = None
            raise ToolError("jsonnet worker process could not be started")
    worker = _worker
    resp = _Response(worker.resp_r, cfg.timeout, cfg.max_output + _SLACK)
    failure: str | None = "interrupted"
    try:
        failure = resp.read()
    finally:
        status = 0
        if failure is not None:  # timeout, flood, crash or an exception here: replace the worker
            _worker = None
            status = worker.stop(kill=True)
    return _result(resp, failure, status, files, cfg)


def _via_fork(files: Sequence[str], cfg: EvalConfig) -> list[str]:
    """Evaluate in a one-shot child (the worker is busy with another render)."""
    read_fd, write_fd = os.pipe()
    pid = _fork()
    if pid == 0:  # pragma: no cover - runs in the child
        os.close(read_fd)
        _one_shot_main(write_fd, files, cfg)
    os.close(write_fd)
    resp = _Response(read_fd, cfg.timeout, cfg.max_output + _SLACK)
    failure: str | None = "interrupted"
    try:
        failure = resp.read()
    finally:
        os.close(read_fd)
        if failure is not None:
            _kill(pid)
        status = os.waitpid(pid, 0)[1]
    return _result(resp, failure, status, files, cfg)


def evaluate_files(files: Sequence[str], cfg: EvalConfig) -> list[str]:
    """Evaluate each file (relative to ``cfg.root``); their JSON texts, in order.

    Raises ToolError naming the file on a jsonnet error, at the timeout (the
    evaluating process is killed), when the output passes ``cfg.max_output``,
    or when the process dies (e.g. at the memory limit).
    """
    if not files:
        return []
    if _lock.acquire(blocking=False):
        try:
            return _via_worker(files, cfg)
        finally:
            _lock.release()
    return _via_fork(files, cfg)


def worker_pid() -> int | None:
    """The pid of this process's long-lived worker, if one is running (for tests)."""
    return _worker.pid if _worker is not None and _worker.owner == os.getpid() else None
