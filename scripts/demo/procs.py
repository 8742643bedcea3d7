"""Child processes the demo owns: started in their own process group, always stopped.

Each child gets a new session (``start_new_session``) so that stopping it
also stops what it spawned (``git daemon``'s per-connection forks, the
controller's helm/kubectl runs): the whole group gets SIGTERM, then SIGKILL
after a grace period. On Linux each child also gets SIGTERM should the demo
itself be killed outright (``PR_SET_PDEATHSIG``), so even ``kill -9`` of the
demo leaves nothing running. Output goes to a log file in the demo's temp dir so a
failure can show the last lines of the process that got stuck.
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


class DemoError(Exception):
    """A step failed; the message says which step, what it waited for and where to look."""


def free_port() -> int:
    """A port free right now on 127.0.0.1 (for servers that cannot bind port 0 and report it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_for(what: str, check: Callable[[], T | None], timeout: float, interval: float = 0.25,
             detail: Callable[[], str] | None = None) -> T:
    """Poll ``check`` until it returns something truthy; on timeout say what never happened."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            extra = f"\n{detail()}" if detail is not None else ""
            raise DemoError(f"timed out after {timeout:.0f} s waiting for {what}{extra}")
        time.sleep(interval)


def _die_with_parent() -> None:
    """In the child, before exec: ask Linux for SIGTERM when the demo process dies."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


@dataclass
class Child:
    name: str
    proc: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def tail(self, lines: int = 15) -> str:
        try:
            text = self.log.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(f"    {self.name}| {line}" for line in text[-lines:])


@dataclass
class Children:
    """Every process the demo started, stopped in reverse order by :meth:`stop_all`."""

    log_dir: Path
    env: dict[str, str]
    started: list[Child] = field(default_factory=list)

    def start(self, name: str, argv: Sequence[str], cwd: Path | None = None) -> Child:
        log = self.log_dir / f"{name}.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen(list(argv), cwd=cwd, env=self.env, stdin=subprocess.DEVNULL, stdout=out,
                                    stderr=subprocess.STDOUT, start_new_session=True,
                                    preexec_fn=_die_with_parent if sys.platform == "linux" else None)
        child = Child(name, proc, log)
        self.started.append(child)
        return child

    def check_alive(self) -> None:
        for child in self.started:
            code = child.proc.poll()
            if code is not None:
                raise DemoError(f"{child.name} (pid {child.pid}) exited early with code {code}:\n{child.tail()}")

    @staticmethod
    def stop(child: Child, grace: float = 10.0) -> str:
        """SIGTERM the child's process group, wait, SIGKILL it on timeout; returns how it ended."""
        how = "exited"
        if child.proc.poll() is None:
            _signal_group(child.pid, signal.SIGTERM)
            try:
                child.proc.wait(timeout=grace)
                how = "stopped"
            except subprocess.TimeoutExpired:
                how = "killed after timeout"
        # Whatever is left in the group (forks of the child) goes too.
        _signal_group(child.pid, signal.SIGKILL)
        if child.proc.poll() is None:
            child.proc.wait(timeout=5)
        return how

    def stop_all(self, report: Callable[[str], None]) -> None:
        for child in reversed(self.started):
            report(f"{child.name} (pid {child.pid}): {self.stop(child)}")
        self.started.clear()


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass
