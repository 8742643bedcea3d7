"""syncwright's Kustomize source plugin (entry point: ``syncwright_kustomize.plugin``)."""

__version__ = "0.1.0"
