"""``syncwright controller``: run the reconcile loop until SIGTERM/SIGINT."""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
from pathlib import Path
from typing import Any

import click

from ..cli import load_hooks
from .appstate import cluster_options


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message (and app when the message names one)."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {"time": self.formatTime(record), "level": record.levelname.lower(),
                               "logger": record.name, "msg": record.getMessage()}
        if record.args and isinstance(record.args, tuple) and record.msg.startswith("app %s"):
            out["app"] = record.args[0]
        if record.exc_info:
            out["error"] = self.formatException(record.exc_info)
        return json.dumps(out)


def setup_logging(level: str, fmt: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("urllib3").setLevel(logging.ERROR)  # pool-size chatter from watch threads


@click.command()
@click.option("--apps", "apps", multiple=True, type=click.Path(exists=True, path_type=Path), metavar="PATH",
              help="A file or directory of Application/AppProject manifests (repeatable; local mode).")
@cluster_options
@click.option("--in-cluster", is_flag=True, help="Read Applications/AppProjects from custom resources and write "
              "their status (install the CRDs with `syncwright install-crds | kubectl apply -f -`).")
@click.option("--namespace", default="", help="In-cluster mode: the namespace of the Application resources "
              "(default: $SYNCWRIGHT_NAMESPACE or the pod's namespace).")
@click.option("--state", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Local mode: the SQLite state database (default: $SYNCWRIGHT_STATE or "
                   "~/.local/state/syncwright/state.db).")
@click.option("--resync", type=float, default=180.0, show_default=True, metavar="SECONDS",
              help="Period of the full refresh (jittered by up to 20%).")
@click.option("--status-workers", type=click.IntRange(1, 64), default=4, show_default=True,
              help="Workers comparing apps with the cluster.")
@click.option("--operation-workers", type=click.IntRange(1, 64), default=4, show_default=True,
              help="Workers running syncs (one operation per app at a time).")
@click.option("--self-heal-backoff", default="2,3,300", show_default=True, metavar="DURATION,FACTOR,CAP",
              help="Back-off between self-heal attempts of one app (seconds).")
@click.option("--leases", "lease_namespace", default="", metavar="NAMESPACE",
              help="Shard apps by destination cluster with other replicas through Leases in NAMESPACE.")
@click.option("--lease-duration", type=float, default=15.0, show_default=True, metavar="SECONDS")
@click.option("--identity", default="", help="This replica's name in Leases (default: hostname-pid).")
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"]), default="info",
              show_default=True)
@click.option("--log-format", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.pass_context
def controller(ctx: click.Context, /, apps: tuple[Path, ...], kubeconfig: str | None, kube_context: str | None,
               in_cluster: bool, namespace: str, state: Path | None, resync: float, status_workers: int,
               operation_workers: int, self_heal_backoff: str, lease_namespace: str, lease_duration: float,
               identity: str, log_level: str, log_format: str) -> None:
    """Run the controller: keep Applications reconciled, auto-sync and self-heal them.

    Local mode reads Applications and AppProjects from --apps and keeps state
    in SQLite; use `syncwright app list|get|sync|refresh ...` next to it.
    Stops cleanly on SIGTERM or Ctrl-C.
    """
    from ..controller.reconcile import Settings
    from ..controller.runner import Options, build
    from ..errors import SyncwrightError

    setup_logging(log_level, log_format)
    try:
        parts = tuple(float(x) for x in self_heal_backoff.split(","))
        if len(parts) != 3:
            raise ValueError
    except ValueError:
        raise click.BadParameter("expected DURATION,FACTOR,CAP, e.g. 2,3,300", param_hint="--self-heal-backoff") from None
    settings = Settings(resync=resync, status_workers=status_workers, operation_workers=operation_workers,
                        self_heal_backoff=(parts[0], parts[1], parts[2]))
    if identity:
        settings.identity = identity
    opts = Options(list(apps), kubeconfig, kube_context, in_cluster, namespace, state, lease_namespace,
                   lease_duration, settings)
    hooks = load_hooks(ctx)
    done = threading.Event()

    def on_signal(signum: int, _frame: Any) -> None:
        done.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        running = build(opts, hooks)
    except SyncwrightError as e:
        raise click.ClickException(str(e)) from None
    log = logging.getLogger("syncwright.controller")
    log.info("controller %s started: %d app(s)", settings.identity, len(running.controller.apps))
    for err in running.controller.source_errors:
        log.warning("%s", err)
    done.wait()
    log.info("stopping")
    running.stop()
