"""Fixtures for the CMP tests: real cmp-server processes on real sockets, the CLI, plugin dirs."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
EXAMPLES = REPO / "examples"
PLUGINS = EXAMPLES / "cmp-plugins"
SYNCWRIGHT = Path(sys.executable).parent / "syncwright"
#: The example plugins and the name each serves (socket file = <name>.sock, as Argo CD).
EXAMPLE_PLUGINS = {"envsubst": "envsubst", "params-demo": "params-demo-v1.0", "bundler": "bundler"}


def base_env() -> dict[str, str]:
    """A small, known environment (LANG set so Python does not coerce LC_CTYPE into it)."""
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/root"), "LANG": "C.UTF-8"}


def docs(text: str | bytes) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(text) if d is not None]


def short_dir(prefix: str) -> Path:
    """A temp dir with a short path: Unix socket paths are limited to ~100 bytes."""
    return Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))


class Server:
    """A running ``syncwright cmp-server`` subprocess."""

    def __init__(self, proc: subprocess.Popen[bytes], socket: Path, log: Path, work: Path) -> None:
        self.proc = proc
        self.socket = socket
        self.log = log
        self.work = work

    def log_lines(self) -> list[str]:
        return [line for line in self.log.read_text().splitlines() if " cmp-server " in line]

    def request_dirs(self) -> list[Path]:
        return [p for sub in self.work.iterdir() for p in sub.iterdir()] if self.work.exists() else []

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:  # pragma: no cover
                self.proc.kill()
                self.proc.wait()


def start_server(config: Path, socket: Path, *args: str, env: dict[str, str] | None = None) -> Server:
    """Start a cmp-server and wait until it answers its handshake."""
    from syncwright_cmp.protocol import call

    log = socket.with_suffix(".log")
    work = socket.parent / (socket.stem + "-work")
    proc = subprocess.Popen(
        [str(SYNCWRIGHT), "cmp-server", "--config", str(config), "--socket", str(socket), "--work-dir", str(work), *args],
        stdout=subprocess.DEVNULL, stderr=open(log, "wb"), env=env or base_env(),
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"cmp-server exited: {log.read_text()}")
        if socket.exists():
            try:
                call(socket, "GET", "/v1/info", timeout=2)
                return Server(proc, socket, log, work)
            except Exception:  # noqa: BLE001 - not ready yet
                pass
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"cmp-server did not come up: {log.read_text()}")


@pytest.fixture(scope="session")
def example_sidecars() -> Iterator[Path]:
    """A socket dir with one real cmp-server per example plugin."""
    sockets = short_dir("swcmp-ex")
    servers = [start_server(PLUGINS / f"{file}.yaml", sockets / f"{name}.sock") for file, name in EXAMPLE_PLUGINS.items()]
    yield sockets
    for s in servers:
        s.stop()
    shutil.rmtree(sockets, ignore_errors=True)


@pytest.fixture()
def sockdir() -> Iterator[Path]:
    path = short_dir("swcmp-")
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture()
def servers(sockdir: Path) -> Iterator[Callable[..., Server]]:
    """Start servers for ad-hoc plugins; all stopped at the end of the test."""
    started: list[Server] = []

    def start(config: Path, name: str, *args: str, env: dict[str, str] | None = None) -> Server:
        s = start_server(config, sockdir / f"{name}.sock", *args, env=env)
        started.append(s)
        return s

    yield start
    for s in started:
        s.stop()


def write_plugin(directory: Path, name: str, spec: str) -> Path:
    """A plugin.yaml named ``<name>.yaml`` with ``spec`` (YAML text, indented as the spec block)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.yaml"
    path.write_text(
        "apiVersion: argoproj.io/v1alpha1\nkind: ConfigManagementPlugin\n"
        f"metadata:\n  name: {name}\nspec:\n" + textwrap.indent(textwrap.dedent(spec).strip() + "\n", "  ")
    )
    return path


def sw(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run the real ``syncwright`` CLI."""
    return subprocess.run([str(SYNCWRIGHT), *args], capture_output=True, text=True, env=env or base_env(),
                          cwd=cwd, timeout=timeout, check=False)


@pytest.fixture(scope="session")
def h() -> Any:
    """These helpers (conftest modules are not importable under --import-mode=importlib)."""
    return sys.modules[__name__]
