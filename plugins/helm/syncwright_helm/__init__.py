"""syncwright-helm: the ``helm`` source type (``helm template`` with Argo CD semantics).

The hook implementations live in ``syncwright_helm.plugin`` (the entry point).
"""
