"""syncwright-cmp: Argo CD Config Management Plugins, run locally or as sidecars over a Unix socket."""

__version__ = "0.1.0"
