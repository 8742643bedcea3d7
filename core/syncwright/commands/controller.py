"""``syncwright controller``: run the reconcile loop until SIGTERM/SIGINT."""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path
from typing import Any

import click

from ..cli import load_hooks
from .appstate import cluster_options
from .server import TOKEN_ENV, parse_listen, read_tokens, read_webhook_secrets


def _app_of_message(record: logging.LogRecord) -> bool:
    """Give ``log.x("app %s: ...", name)`` lines their ``app`` key when the caller passed no extra."""
    if not hasattr(record, "app") and isinstance(record.msg, str) and record.msg.startswith("app %s") \
            and isinstance(record.args, tuple) and record.args:
        record.app = str(record.args[0])
    return True


def setup_logging(level: str, fmt: str) -> None:
    """JSON lines (``server/logging.py``: app, revision and operation id as keys) or text, on stderr."""
    from ..server import logging as swlog

    handler = swlog.setup(level, fmt=fmt)
    handler.addFilter(_app_of_message)
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
@click.option("--listen", default="", metavar="HOST:PORT",
              help="Also serve the HTTP API, Git webhooks, /metrics, /healthz and /readyz here "
                   "(port 0: any free port, logged at start).")
@click.option("--token-file", type=click.Path(dir_okay=False), metavar="FILE",
              help=f"With --listen: bearer token(s) for the API, one per line (default: ${TOKEN_ENV}).")
@click.option("--webhook-secrets", type=click.Path(exists=True, dir_okay=False), metavar="FILE",
              help="With --listen: YAML with webhook.github.secret, webhook.gitlab.secret, webhook.gitea.secret, "
                   "webhook.bitbucket.secret, webhook.bitbucketserver.secret (or SYNCWRIGHT_WEBHOOK_*_SECRET).")
@click.option("--webhook-max-body", type=click.IntRange(1024, 64 * 1024 * 1024), default=1024 * 1024,
              show_default=True, metavar="BYTES", help="Largest webhook body accepted (refused before reading).")
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"]), default="info",
              show_default=True)
@click.option("--log-format", type=click.Choice(["text", "json"]), default="json", show_default=True)
@click.pass_context
def controller(ctx: click.Context, /, apps: tuple[Path, ...], kubeconfig: str | None, kube_context: str | None,
               in_cluster: bool, namespace: str, state: Path | None, resync: float, status_workers: int,
               operation_workers: int, self_heal_backoff: str, lease_namespace: str, lease_duration: float,
               identity: str, listen: str, token_file: str | None, webhook_secrets: str | None,
               webhook_max_body: int, log_level: str, log_format: str) -> None:
    """Run the controller: keep Applications reconciled, auto-sync and self-heal them.

    Local mode reads Applications and AppProjects from --apps and keeps state
    in SQLite; use `syncwright app list|get|sync|refresh ...` next to it.
    With --listen it also serves the HTTP API (bearer token from --token-file or
    $SYNCWRIGHT_API_TOKEN), Git webhooks (refresh the apps a push touches),
    /metrics, /healthz and /readyz. Stops cleanly on SIGTERM or Ctrl-C.
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
    listen_at = None
    tokens: list[str] = []
    secrets: dict[str, str] = {}
    try:
        if listen:  # checked before the controller starts: a bad flag must not leave it half running
            listen_at = parse_listen(listen)
            tokens = read_tokens(token_file)
            secrets = read_webhook_secrets(webhook_secrets)
    except SyncwrightError as e:
        raise click.ClickException(str(e)) from None
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
    srv = None
    if listen_at is not None:
        try:
            srv = serve(running.controller, listen_at, tokens, secrets, webhook_max_body)
        except SyncwrightError as e:
            running.stop()
            raise click.ClickException(str(e)) from None
        log.info("serving on %s", srv.url, extra={"url": srv.url, "webhook_providers": sorted(secrets)})
    done.wait()
    log.info("stopping")
    if srv is not None:
        srv.stop()
    running.stop()


def serve(controller: Any, listen_at: tuple[str, int], tokens: list[str], secrets: dict[str, str],
          max_body: int) -> Any:
    """Start the API over ``controller`` in a background thread; returns the started ``http.Server``."""
    from ..errors import SpecError
    from ..server.api import build_app
    from ..server.controller_backend import ControllerBackend
    from ..server.http import Server

    try:
        app = build_app(ControllerBackend(controller), tokens, secrets, max_body)
    except ValueError as e:
        raise SpecError(str(e), context=TOKEN_ENV) from None
    try:
        srv = Server(app, *listen_at)
    except OSError as e:
        raise SpecError(f"cannot listen on {listen_at[0]}:{listen_at[1]}: {e.strerror}") from None
    return srv.start()
