"""``syncwright server``: the HTTP API, webhooks, metrics and probes over a directory of apps."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Any

import click

from ..errors import SpecError
from .appstate import cluster_options

TOKEN_ENV = "SYNCWRIGHT_API_TOKEN"
#: env vars that set a webhook secret, like the ``--webhook-secrets`` file keys
SECRET_ENV = {"github": "SYNCWRIGHT_WEBHOOK_GITHUB_SECRET", "gitlab": "SYNCWRIGHT_WEBHOOK_GITLAB_SECRET",
              "gitea": "SYNCWRIGHT_WEBHOOK_GITEA_SECRET", "bitbucket": "SYNCWRIGHT_WEBHOOK_BITBUCKET_SECRET",
              "bitbucket-server": "SYNCWRIGHT_WEBHOOK_BITBUCKETSERVER_SECRET"}


def read_tokens(token_file: str | None) -> list[str]:
    """Tokens from the file (one per line; several allow rotation) or ``SYNCWRIGHT_API_TOKEN``."""
    if token_file:
        try:
            text = Path(token_file).read_text(encoding="utf-8")
        except OSError as e:
            raise SpecError(f"cannot read the API token file: {e.strerror}", context=token_file) from None
        tokens = [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]
        if not tokens:
            raise SpecError("the API token file holds no token", context=token_file)
        return tokens
    token = os.environ.get(TOKEN_ENV, "").strip()
    if not token:
        raise SpecError(f"no API token: pass --token-file FILE or set {TOKEN_ENV} (the API never runs without auth)")
    return [token]


def read_webhook_secrets(path: str | None) -> dict[str, str]:
    """Provider → secret, from Argo CD-style keys in a YAML file (``webhook.github.secret: ...``) and env vars."""
    from ..server.webhooks import SECRET_KEYS

    out: dict[str, str] = {}
    if path:
        import yaml

        try:
            doc = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as e:
            raise SpecError(f"cannot read webhook secrets: {e}", context=path) from None
        if not isinstance(doc, dict):
            raise SpecError("webhook secrets must be a mapping of keys like webhook.github.secret", context=path)
        for key, value in doc.items():
            provider = SECRET_KEYS.get(str(key))
            if provider is None:
                known = ", ".join(sorted(SECRET_KEYS))
                raise SpecError(f"unknown key {key!r} (known: {known})", context=path)
            if value:
                out[provider] = str(value)
    for provider, env in SECRET_ENV.items():
        if os.environ.get(env):
            out[provider] = os.environ[env]
    return out


def parse_listen(listen: str) -> tuple[str, int]:
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise SpecError(f"--listen {listen!r} must be HOST:PORT, e.g. 127.0.0.1:8080 or 0.0.0.0:8080")
    return host.strip("[]"), int(port)


@click.command()
@click.option("--listen", default="127.0.0.1:8080", show_default=True, metavar="HOST:PORT",
              help="Where to serve the API (port 0: any free port, printed at start).")
@click.option("--token-file", type=click.Path(dir_okay=False), metavar="FILE",
              help=f"Bearer token(s) for the API, one per line (default: ${TOKEN_ENV}).")
@click.option("--apps", "apps_path", required=True, type=click.Path(exists=True), metavar="DIR",
              help="Directory (or file) of Application manifests to serve.")
@click.option("--webhook-secrets", type=click.Path(exists=True, dir_okay=False), metavar="FILE",
              help="YAML with webhook.github.secret, webhook.gitlab.secret, webhook.gitea.secret, "
                   "webhook.bitbucket.secret, webhook.bitbucketserver.secret (or SYNCWRIGHT_WEBHOOK_*_SECRET).")
@click.option("--webhook-max-body", type=click.IntRange(1024, 64 * 1024 * 1024), default=1024 * 1024,
              show_default=True, metavar="BYTES", help="Largest webhook body accepted (refused before reading).")
@cluster_options
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"]), default="info",
              show_default=True)
@click.option("--log-format", type=click.Choice(["json", "text"]), default="json", show_default=True)
def server(listen: str, token_file: str | None, apps_path: str, webhook_secrets: str | None, webhook_max_body: int,
           kubeconfig: str | None, kube_context: str | None, log_level: str, log_format: str) -> None:
    """Serve the HTTP API, Git webhooks, /metrics, /healthz and /readyz for the apps in --apps.

    Runs until SIGTERM or Ctrl-C. Every /api/v1 route needs the bearer token;
    see /openapi.yaml for the routes.
    """
    import logging

    from ..server import logging as swlog
    from ..server.api import build_app
    from ..server.http import Server
    from ..server.local_backend import LocalBackend

    host, port = parse_listen(listen)
    tokens = read_tokens(token_file)
    secrets = read_webhook_secrets(webhook_secrets)
    swlog.setup(log_level, fmt=log_format)
    log = logging.getLogger("syncwright.server")
    from .. import metrics

    metrics.enable()  # count tool runs and git requests from the first render on
    backend = LocalBackend(Path(apps_path), kubeconfig=kubeconfig, context=kube_context)
    try:
        app = build_app(backend, tokens, secrets, webhook_max_body)
    except ValueError as e:
        raise SpecError(str(e), context=token_file or TOKEN_ENV) from None
    try:
        srv = Server(app, host, port)
    except OSError as e:
        raise SpecError(f"cannot listen on {listen}: {e.strerror}") from None
    backend.start(background=True)

    def stop(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    log.info("serving on %s", srv.url, extra={"url": srv.url, "apps": str(apps_path),
                                               "webhook_providers": sorted(secrets)})
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        log.info("shutting down")
        srv.httpd.server_close()
        backend.stop()
    sys.exit(0)
