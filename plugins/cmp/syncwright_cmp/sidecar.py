"""The engine side of sidecars: find them by socket, ask them to discover, render, announce.

Sockets live in one directory (``--cmp-socket-dir`` / ``SYNCWRIGHT_CMP_SOCKETS``),
one ``<plugin-name>.sock`` per sidecar, like Argo CD's
``/home/argocd/cmp-server/plugins/*.sock``. The repository is archived once
per render (one tar pass) and the archive is reused if discovery already
made it for a ``find.command`` rule.
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from syncwright.api import RenderContext, RenderError

from .config import CMP_PREFIX, Command, Discover
from .runner import rule_depth, tree_paths

INFO_TIMEOUT = 5.0
#: Added to the tool timeout for the socket: extraction, the kill grace period, the answer.
SOCKET_GRACE = 30.0


@dataclass(frozen=True)
class Sidecar:
    """A reachable sidecar and what its handshake told us."""

    socket: Path
    info: dict[str, Any]

    @property
    def plugin_name(self) -> str:
        return str(self.info.get("pluginName") or self.info.get("name"))

    @property
    def tool(self) -> str:
        return CMP_PREFIX + self.plugin_name

    @property
    def discover(self) -> Discover:
        d = self.info.get("discover") or {}
        cmd = d.get("command")
        return Discover(str(d.get("fileName") or ""), str(d.get("glob") or ""),
                        Command(tuple(cmd)) if cmd else None)


def socket_dir() -> Path | None:
    explicit = os.environ.get("SYNCWRIGHT_CMP_SOCKETS")
    return Path(explicit).expanduser() if explicit else None


def socket_paths(directory: Path | None = None) -> list[Path]:
    """The ``*.sock`` files of the socket dir, sorted by name (discovery order)."""
    directory = directory or socket_dir()
    if directory is None or not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if p.name.endswith(".sock"))


_INFO: dict[tuple[str, int, int], dict[str, Any]] = {}


def handshake(path: Path) -> Sidecar:
    """``GET /v1/info``, cached per socket inode; checks the protocol version."""
    from .protocol import PROTOCOL_VERSION, call  # http.client only when a sidecar is used

    try:
        st = path.stat()
    except FileNotFoundError:
        raise RenderError("socket is gone (no such file); is the cmp-server running?", context=f"CMP sidecar {path}") from None
    if not stat.S_ISSOCK(st.st_mode):
        raise RenderError("is not a Unix socket", context=f"CMP sidecar {path}")
    key = (str(path), st.st_ino, st.st_mtime_ns)
    info = _INFO.get(key)
    if info is None:
        info = call(path, "GET", "/v1/info", timeout=INFO_TIMEOUT)
        if info.get("protocol") != PROTOCOL_VERSION or not isinstance(info.get("name"), str):
            raise RenderError(f"speaks protocol {info.get('protocol')!r}; this syncwright speaks {PROTOCOL_VERSION}",
                              context=f"CMP sidecar {path}")
        _INFO[key] = info
    return Sidecar(path, info)


def sidecars() -> Iterator[Sidecar | tuple[Path, RenderError]]:
    """Every socket of the dir: its Sidecar, or the error that made it unusable."""
    for path in socket_paths():
        try:
            yield handshake(path)
        except RenderError as e:
            yield path, e


def find(plugin_name: str) -> Sidecar | None:
    """The sidecar serving ``plugin_name``: ``<name>.sock`` first, then every socket's handshake."""
    directory = socket_dir()
    if directory is None:
        return None
    direct = directory / f"{plugin_name}.sock"
    if os.path.lexists(direct):
        car = handshake(direct)  # a dead socket named for the plugin is the user's error to see
        if car.plugin_name == plugin_name:
            return car
    for item in sidecars():
        if isinstance(item, Sidecar) and item.plugin_name == plugin_name:
            return item
    return None


def _meta(ctx: RenderContext) -> dict[str, Any]:
    rel = os.path.relpath(ctx.source_dir.resolve(), ctx.repo_root.resolve())
    return {
        "appPath": "." if rel == "." else rel.replace(os.sep, "/"),
        "build": {
            "appName": ctx.app_name,
            "appNamespace": ctx.app_namespace,
            "project": ctx.project,
            "revision": ctx.revision,
            "kubeVersion": ctx.kube_version,
            "apiVersions": list(ctx.api_versions),
            "timeout": ctx.timeout,
        },
        "source": {"repoURL": ctx.source.repo_url,
                   **ctx.source.model_dump(by_alias=True, exclude_defaults=True)},
    }


def archive(ctx: RenderContext) -> IO[bytes]:
    """The repository as tar.gz, built once per render and shared by discover and generate."""
    scratch = ctx.shared  # per-render storage shared by the discover and render contexts
    cached = scratch.get("cmp-archive")
    if cached is not None:
        fh: IO[bytes] = cached
        fh.seek(0)
        return fh
    fh = tempfile.TemporaryFile(prefix="sw-cmp-")
    try:
        from .archive import write_archive  # tarfile/gzip only when a sidecar is used

        write_archive(ctx.repo_root, fh)
    except OSError as e:
        fh.close()
        raise RenderError(f"cannot archive the repository for the sidecar: {e.strerror or e}") from e
    scratch["cmp-archive"] = fh
    fh.seek(0)
    return fh


def release(ctx: RenderContext) -> None:
    """Close this render's archive (the core's cleanup removes dirs, not open files)."""
    fh = ctx.shared.pop("cmp-archive", None)
    if fh is not None:
        fh.close()


def _body(ctx: RenderContext, meta: dict[str, Any], with_tree: bool) -> tuple[list[bytes] | Iterator[bytes], int]:
    from .protocol import encode_meta

    head = encode_meta(meta)
    if not with_tree:
        return [head], len(head)
    fh = archive(ctx)
    size = os.fstat(fh.fileno()).st_size

    def chunks() -> Iterator[bytes]:
        yield head
        while chunk := fh.read(1024 * 1024):
            yield chunk

    return chunks(), len(head) + size


def _post(car: Sidecar, ctx: RenderContext, path: str, meta: dict[str, Any], with_tree: bool, timeout: float) -> dict[str, Any]:
    body, length = _body(ctx, meta, with_tree)
    from .protocol import call

    return call(car.socket, "POST", path, body=body, length=length, timeout=timeout)


def discover(car: Sidecar, ctx: RenderContext) -> str | None:
    """Ask the sidecar whether it claims the source; the tree travels only for ``find.command``."""
    rule = car.discover
    if not rule.kind:
        return None
    meta = _meta(ctx)
    if rule.kind == "command":
        answer = _post(car, ctx, "/v1/discover", meta, True, ctx.timeout + SOCKET_GRACE)
    else:
        meta["paths"] = tree_paths(ctx.source_dir, rule_depth(rule))
        answer = _post(car, ctx, "/v1/discover", meta, False, INFO_TIMEOUT * 6)
    if answer.get("match") is True:
        return f"sidecar {car.socket.name}: {answer.get('reason') or 'matched'}"
    return None


def generate(car: Sidecar, ctx: RenderContext) -> list[dict[str, Any]]:
    """Stream the tree, get the plugin's output, parse it here (our limits and checks, as locally)."""
    body, length = _body(ctx, _meta(ctx), True)
    from .protocol import call_raw

    out = call_raw(car.socket, "POST", "/v1/generate", body=body, length=length, timeout=ctx.timeout + SOCKET_GRACE)
    return ctx.parse(out, f"CMP sidecar {car.socket} plugin {car.plugin_name} generate output")


def parameters(car: Sidecar, ctx: RenderContext) -> list[dict[str, Any]]:
    answer = _post(car, ctx, "/v1/parameters", _meta(ctx), True, ctx.timeout + SOCKET_GRACE)
    params = answer.get("parameters")
    if not isinstance(params, list):
        raise RenderError("answer has no parameters list", context=f"CMP sidecar {car.socket}")
    return params
