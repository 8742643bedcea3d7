"""The hook specifications: syncwright's contract with its plugins.

Each docstring below is the reference documentation of its hook
(``docs/hooks/*.md`` is checked against it by ``tests/test_docs.py``). Hooks
take keyword arguments only, return one frozen dataclass (from
``syncwright.api``) or None, and are called only through
``syncwright.plugins.Hooks``.
"""

from __future__ import annotations

from typing import Any

import pluggy

from .api import (
    PROJECT,
    Discovered,
    HealthContext,
    HealthStatus,
    RenderContext,
    Rendered,
    SourceTypes,
    SyncEvent,
)

hookspec = pluggy.HookspecMarker(PROJECT)


@hookspec
def syncwright_source_types(versions: bool) -> SourceTypes | None:
    """Announce the source types (tools) this plugin provides.

    :param versions: whether the caller needs ``tool_version`` filled in (it
        may run the tool's version command, cached); False on the render path,
        which only needs the names. Implementations may omit this argument.

    :return: ``SourceTypes`` listing each ``SourceType``: its name (the value of
        ``--tool`` and of ``RenderContext.tool``), a description, the external
        binary it drives (``ToolBinary``, with an install hint) and that
        binary's version, a human description of its discover rule, and the
        parameters it accepts. Return None if the plugin provides no source type.

    Called by ``syncwright plugins`` (``versions=True``) and whenever the core
    needs the list of known tools (e.g. to validate ``--tool``,
    ``versions=False``). Must be cheap: run the tool only when ``versions`` is
    true, and cache the answer.

    .. versionadded:: 0.1
    """


@hookspec
def syncwright_discover(ctx: RenderContext) -> Discovered | None:
    """Claim a source directory for one of this plugin's tools.

    :param ctx: the render context; ``ctx.source_dir`` is the app path,
        ``ctx.tool`` is None.
    :return: ``Discovered(tool, priority, reason)`` when this plugin's tool
        should render the source (e.g. ``Chart.yaml`` → helm), else None.

    Called for every source whose Application names no tool. Every plugin is
    asked; the claim with the lowest ``priority`` wins (``api.DISCOVERY_PRIORITY``:
    a matching CMP 0, helm 100, kustomize 200, jsonnet 300, directory 1000 —
    Argo CD's precedence, stated as data rather than left to registration
    order). The directory plugin claims everything, as the fallback.

    .. versionadded:: 0.1
    """


@hookspec(firstresult=True)
def syncwright_render(ctx: RenderContext) -> Rendered | None:
    """Render the source in ``ctx.source_dir`` with the tool named ``ctx.tool``.

    :param ctx: the render context, with ``ctx.tool`` set and the spec's tool
        options in ``ctx.source`` (``.helm``, ``.kustomize``, ``.directory``,
        ``.plugin``).
    :return: ``Rendered`` with the manifests in the tool's order, or None when
        ``ctx.tool`` is not one of this plugin's tools. Stops at the first
        non-None result.

    Raise ``RenderError``/``ToolError``/``ManifestError`` (from
    ``syncwright.api``) with a message naming the file and cause; never return
    partial output. Start tools only through ``ctx.run``. Paths from the spec
    or the repo must go through ``ctx.resolve``.

    .. versionadded:: 0.1
    """


@hookspec(firstresult=True)
def syncwright_health(obj: dict[str, Any], ctx: HealthContext) -> HealthStatus | None:
    """Assess the health of one live object.

    :param obj: the live Kubernetes object.
    :param ctx: what else is known (the app, the object's children).
    :return: ``HealthStatus`` (status one of ``api.HEALTH_CODES``) or None when
        this plugin has no opinion on the object's kind. Stops at the first
        non-None result; user Lua customizations run ``tryfirst``, built-in
        kind checks after them.

    .. versionadded:: 0.1 (declared; implemented by the health layer)
    """


@hookspec
def syncwright_sync_hook(event: SyncEvent) -> None:
    """Observe a sync operation: its start, each phase and wave, each resource result, its end.

    :param event: the ``SyncEvent``; ``event.kind`` is ``start``, ``phase``,
        ``wave``, ``resource`` or ``end``.
    :return: None; every implementation is called.

    Called in order by the sync engine. At ``start`` (before any write) an impl
    may raise ``api.OperationVetoed`` to refuse the operation; it then fails
    with that message and nothing is written. Exceptions at other events are
    logged and do not affect the operation.

    .. versionadded:: 0.1 (declared; implemented by the sync layer)
    """
