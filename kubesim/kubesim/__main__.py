"""`python -m kubesim serve [--port 0] [--kubeconfig-out FILE] [--token T]`."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="kubesim",
                                     description="In-memory Kubernetes API server simulator")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve the Kubernetes API on 127.0.0.1")
    serve.add_argument("--port", type=int, default=0, help="TCP port (0 = pick a free one)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--kubeconfig-out", metavar="FILE",
                       help="write a kubeconfig for this server to FILE")
    serve.add_argument("--token", help="require this bearer token on every request "
                                       "(and serve HTTPS with a self-signed certificate)")
    serve.add_argument("--no-controllers", action="store_true",
                       help="do not run the simulated controllers")
    serve.add_argument("--log-requests", action="store_true",
                       help="log every request to stderr")
    args = parser.parse_args(argv)
    from .sim import Config, serve_forever
    config = Config(token=args.token, controllers=not args.no_controllers,
                    log_requests=args.log_requests)
    try:
        serve_forever(args.port, config, args.kubeconfig_out, args.host)
    except OSError as e:
        print(f"kubesim: cannot listen on {args.host}:{args.port}: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
