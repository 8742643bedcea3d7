"""syncwright: GitOps continuous deployment for Kubernetes, Argo CD compatible.

Importing the package is cheap on purpose: the CLI's ``--help`` and the render
path must not pay for the Kubernetes or Git clients.
"""

__version__ = "0.1.0"
