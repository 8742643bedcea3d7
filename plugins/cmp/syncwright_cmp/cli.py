"""CLI commands this plugin adds (entry-point group ``syncwright.commands``).

``syncwright cmp-server --config plugin.yaml --socket PATH`` serves one plugin
as a sidecar; ``syncwright cmp-params PATH --plugin NAME`` shows a plugin's
parameter announcements (static, then the dynamic command's) for a source.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

import click

from syncwright.api import RenderContext, RenderError, SpecError, Source

from .archive import DEFAULT_MAX_BYTES, DEFAULT_MAX_FILES
from .config import CMP_PREFIX, load_config_file
from .protocol import PROTOCOL_VERSION


@click.command("cmp-server")
@click.option("--config", "config_path", required=True, type=click.Path(exists=True, dir_okay=True),
              help="plugin.yaml (or a dir holding it, like Argo CD's /home/argocd/cmp-server/config).")
@click.option("--socket", "socket_path", required=True, type=click.Path(dir_okay=False),
              help="Unix socket to serve on, e.g. <socket-dir>/<plugin-name>.sock.")
@click.option("--work-dir", type=click.Path(file_okay=False), default=tempfile.gettempdir(), show_default=True,
              help="Where request trees are extracted (a private subdir, removed on exit).")
@click.option("--timeout", type=float, help="Max seconds per command (env ARGOCD_EXEC_TIMEOUT, default 90).")
@click.option("--max-extracted-bytes", type=int, default=DEFAULT_MAX_BYTES, show_default=True)
@click.option("--max-files", type=int, default=DEFAULT_MAX_FILES, show_default=True)
@click.option("--max-output", type=int, help="Max bytes generate may print (default 100 MiB).")
@click.option("--pass-env", multiple=True, metavar="NAME", help="Pass this variable of the sidecar's env to the plugin.")
@click.option("--pass-all-env", is_flag=True, help="Pass the sidecar's whole env to the plugin, as Argo CD does.")
def cmp_server(config_path: str, socket_path: str, work_dir: str, timeout: float | None, max_extracted_bytes: int,
               max_files: int, max_output: int | None, pass_env: tuple[str, ...], pass_all_env: bool) -> None:
    """Serve one Config Management Plugin on a Unix socket (a sidecar)."""
    from .server import ServerSettings, close, make_server

    path = Path(config_path)
    if path.is_dir():
        path = path / "plugin.yaml"
    configs = load_config_file(path)
    if len(configs) != 1:
        raise SpecError(f"holds {len(configs)} plugins; a cmp-server serves exactly one", context=str(path))
    settings = ServerSettings(
        config=configs[0], socket_path=Path(socket_path).absolute(), work_dir=Path(work_dir),
        max_bytes=max_extracted_bytes, max_files=max_files, max_output=max_output,
        pass_env=pass_env, pass_all_env=pass_all_env,
    )
    if timeout is not None:
        settings.timeout = timeout
    server = make_server(settings)

    def stop(signum: int, frame: Any) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"cmp-server: serving plugin {settings.config.plugin_name!r} on {settings.socket_path} "
          f"(protocol {PROTOCOL_VERSION}, timeout {settings.timeout:g}s)", file=sys.stderr, flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        close(server)


def _kv(values: tuple[str, ...], flag: str) -> list[tuple[str, str]]:
    out = []
    for v in values:
        if "=" not in v:
            raise click.BadParameter(f"expected NAME=VALUE, got {v!r}", param_hint=flag)
        k, _, val = v.partition("=")
        out.append((k, val))
    return out


def _repo_root(path: Path) -> Path:
    for candidate in (path, *path.parents):
        if (candidate / ".git").exists():
            return candidate
    return path


@click.command("cmp-params")
@click.argument("path", type=click.Path(exists=True, file_okay=False))
@click.option("--plugin", "plugin_name", required=True, help="Plugin name (<metadata.name>[-<spec.version>]).")
@click.option("--repo-root", type=click.Path(exists=True, file_okay=False))
@click.option("--app-name", help="ARGOCD_APP_NAME (default: the directory name).")
@click.option("--namespace", default="", help="ARGOCD_APP_NAMESPACE.")
@click.option("--plugin-env", multiple=True, metavar="K=V")
@click.option("-p", "--parameter", multiple=True, metavar="K=V")
def cmp_params(path: str, plugin_name: str, repo_root: str | None, app_name: str | None, namespace: str,
               plugin_env: tuple[str, ...], parameter: tuple[str, ...]) -> None:
    """Print a plugin's parameter announcements for the source at PATH, as JSON."""
    from . import runner, sidecar
    from .plugin import local_configs

    src = Path(path).resolve()
    root = Path(repo_root).resolve() if repo_root else _repo_root(src)
    if not src.is_relative_to(root):
        raise click.UsageError("PATH must be inside --repo-root")
    rel = os.path.relpath(src, root)
    source = Source.model_validate({
        "repoURL": "", "path": "" if rel == "." else rel,
        "plugin": {"name": plugin_name,
                   "env": [{"name": k, "value": v} for k, v in _kv(plugin_env, "--plugin-env")],
                   "parameters": [{"name": k, "string": v} for k, v in _kv(parameter, "--parameter")]},
    })
    ctx = RenderContext(app_name=app_name or src.name.lower(), app_namespace=namespace, source=source,
                        source_dir=src, repo_root=root, tool=CMP_PREFIX + plugin_name)
    try:
        cfg = next((c for c in local_configs() if c.plugin_name == plugin_name), None)
        if cfg is not None:
            result = runner.announcements(ctx, cfg, ctx.writable_dir())
        else:
            car = sidecar.find(plugin_name)
            if car is None:
                raise RenderError(f"no Config Management Plugin named {plugin_name!r}")
            try:
                result = sidecar.parameters(car, ctx)
            finally:
                sidecar.release(ctx)
    finally:
        ctx.cleanup()
    click.echo(json.dumps(result, indent=2))
