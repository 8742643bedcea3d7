"""The server layer: the HTTP API, Git webhooks, Prometheus metrics, probes and JSON logs.

It sits on top of the controller and talks to it only through the small
``Backend`` protocol in :mod:`syncwright.server.backend`, so the API can run
over the controller, over the standalone :mod:`syncwright.server.local_backend`,
or over an in-memory fake in tests. Nothing here is imported on the render path.
"""
