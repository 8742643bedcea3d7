"""The controller layer: comparing apps with live state (and, later, the reconcile loop)."""
