"""The controller layer: app sources, state, projects, clusters, the reconcile loop, sharding.

``runner.build(Options, hooks)`` wires and starts a ``reconcile.Controller``;
``Controller.refresh``/``sync``/``notify_push``/``status`` are what the
commands, the API server and webhooks call. See docs/controller.md.
"""
