"""The ``syncwright`` command line: a thin, lazily loaded click group.

Subcommands live in ``syncwright.commands.*`` and are imported only when
invoked, so ``syncwright --help`` stays fast and the render path never imports
the Kubernetes or Git clients.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from . import __version__

#: name → (module in syncwright.commands, function, short help)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "render": ("render", "render", "Render an Application or a source directory to manifests."),
    "plugins": ("plugins", "plugins", "List installed plugins, their source types and tools."),
    "diff": ("diff", "diff", "Diff an Application's live state against Git (exit 1 when out of sync)."),
    "get": ("get", "get", "Show an Application's sync status, health and resources."),
    "health": ("health", "health", "Show the health of objects (Argo CD rules, Lua customizations)."),
    "repo": ("repo", "repo", "Resolve revisions and list refs of remote repositories."),
    "cache": ("cache", "cache", "Show or clear the repository and manifest caches."),
    "sync": ("sync", "sync", "Sync an Application to its cluster: hooks, waves, health waits, prune."),
    "history": ("history", "history", "List an Application's deployment history."),
    "rollback": ("rollback", "rollback", "Re-sync a revision from an Application's history."),
    "controller": ("controller", "controller", "Run the controller: continuous reconciliation, auto-sync, self-heal."),
    "install-crds": ("install_crds", "install_crds", "Print the Application/AppProject CRDs for in-cluster mode."),
    "app": ("app", "app", "List, inspect, sync, refresh and roll back the apps of a running controller."),
    "server": ("server", "server", "Serve the HTTP API, Git webhooks, metrics and probes for a directory of apps."),
    "terminate-op": ("sync", "terminate_op", "Stop an Application's running sync operation."),
}


#: Entry-point group through which plugin distributions add subcommands
#: (``name = "module:click_command"``), e.g. syncwright-cmp's ``cmp-server``.
COMMANDS_GROUP = "syncwright.commands"


def _plugin_commands() -> dict[str, str]:
    from .entrypoints import entry_points

    return {ep.name: ep.value for ep in entry_points(COMMANDS_GROUP) if ep.name not in COMMANDS}


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*COMMANDS, *_plugin_commands()})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        spec = COMMANDS.get(cmd_name)
        if spec is not None:
            module = importlib.import_module(f"syncwright.commands.{spec[0]}")
            cmd: click.Command = getattr(module, spec[1])
            return cmd
        target = _plugin_commands().get(cmd_name)
        if target is None:
            return None
        modname, _, attr = target.partition(":")
        plugin_cmd: click.Command = getattr(importlib.import_module(modname), attr)
        return plugin_cmd

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # Short help from the table (and entry-point names), so --help imports no command module.
        rows = [(name, COMMANDS[name][2] if name in COMMANDS else "(from a plugin)") for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="syncwright")
@click.option(
    "--disable-plugin", "disabled_plugins", multiple=True, metavar="NAME",
    help="Do not load the plugin NAME (repeatable).",
)
@click.option(
    "--cmp-dir", type=click.Path(file_okay=False), metavar="DIR",
    help="Directory of local Config Management Plugin configs (env SYNCWRIGHT_CMP_DIR).",
)
@click.option(
    "--cmp-socket-dir", type=click.Path(file_okay=False), metavar="DIR",
    help="Directory of CMP sidecar sockets (env SYNCWRIGHT_CMP_SOCKETS).",
)
@click.pass_context
def main(
    ctx: click.Context, disabled_plugins: tuple[str, ...], cmp_dir: str | None, cmp_socket_dir: str | None
) -> None:
    """syncwright: GitOps continuous deployment for Kubernetes, Argo CD compatible."""
    import os

    # Plugins read their settings from the environment; the flags are the same knobs.
    if cmp_dir:
        os.environ["SYNCWRIGHT_CMP_DIR"] = os.path.abspath(cmp_dir)
    if cmp_socket_dir:
        os.environ["SYNCWRIGHT_CMP_SOCKETS"] = os.path.abspath(cmp_socket_dir)
    ctx.obj = {"disabled_plugins": disabled_plugins}


def run() -> None:
    """Console-script entry point: user-facing errors print as one line, exit 1."""
    from .errors import SyncwrightError

    try:
        main.main(standalone_mode=False)
    except SyncwrightError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(1)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(1)
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code)
    except click.exceptions.Exit as e:
        sys.exit(e.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)


def load_hooks(ctx: click.Context, **kwargs: Any) -> Any:
    """The plugin facade for a command, honouring ``--disable-plugin``."""
    from .plugins import Hooks

    disabled = (ctx.find_root().obj or {}).get("disabled_plugins", ())
    return Hooks.load(disabled=disabled, **kwargs)
