"""`make demo`: the whole GitOps loop on this machine, with no cluster of your own.

kubesim (an in-memory Kubernetes API server) stands in for the cluster, a real
``git daemon`` serves a repository made from ``examples/``, and ``syncwright
controller`` runs one Application per source type (directory, kustomize, helm,
jsonnet, a Config Management Plugin) with automated sync, prune and self-heal.
The demo waits until every app is Synced and Healthy, pushes a commit and
delivers a signed GitHub push webhook, shows the app syncing to the new
revision, edits a live object by hand and shows the controller reverting it,
prints the app table, and stops every process it started (also on Ctrl-C or
failure). Everything lives in one temp dir that is removed at the end.
"""

from __future__ import annotations

import sys

from demo.main import main  # the package scripts/demo/ (this file's directory is on sys.path)

if __name__ == "__main__":
    sys.exit(main())
