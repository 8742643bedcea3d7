"""The sync engine: make the cluster match Git, in phases and waves, with resource hooks.

This docstring is the user-facing specification (the rules match Argo CD's
gitops-engine ``pkg/sync``; differences are called out).

Tasks
    Every rendered resource becomes a task; so does every hook (once per hook
    phase it names) and, with ``--prune`` / ``automated.prune``, every live
    object tracked to the app that Git no longer has. Objects not tracked to
    the app, or owned by another object (``ownerReferences``), are never pruned.

Phases
    ``PreSync`` → ``Sync`` → ``PostSync``; ``SyncFail`` runs only when the
    operation fails. Normal resources are in ``Sync``. A hook is an object
    annotated ``argocd.argoproj.io/hook: PreSync|Sync|PostSync|SyncFail|Skip``
    (comma lists allowed: one task per phase). Helm's ``helm.sh/hook`` maps
    ``pre-install``/``pre-upgrade`` → PreSync and ``post-install``/``post-upgrade``
    → PostSync; other Helm hooks (``test``, ``pre-delete``, ...) are not applied.
    ``Skip`` objects are never applied.

Waves
    Within a phase, tasks run by ``argocd.argoproj.io/sync-wave`` (integer,
    default 0, negative allowed; ``helm.sh/hook-weight`` when there is no
    sync-wave), then by kind (Namespace, NetworkPolicy, ResourceQuota, ...,
    CustomResourceDefinition, ..., Service, ..., Deployment, ..., Job, CronJob,
    IngressClass, Ingress, APIService; unknown kinds last), then by name. A
    Namespace or CRD sorted after the first object that needs it is moved in
    front of that object, taking its phase and wave.

Prune
    Prune tasks run in the last wave of the Sync phase, before that wave's
    applies, highest own sync-wave first (Argo CD's reversed prune waves).
    With ``PruneLast=true`` (app or resource) they run after everything else,
    PostSync included — a deliberate difference: Argo CD runs them after the
    last Sync wave. ``Prune=false`` records ``PruneSkipped``.

Execution
    1. The plugins' ``syncwright_sync_hook`` sees ``start``; a veto
       (``OperationVetoed``) fails the operation before any write.
    2. ``CreateNamespace=true`` creates the destination namespace (with
       ``managedNamespaceMetadata``).
    3. Every task is dry-run on the server (``dryRun=All``); if any fails,
       nothing is written and the operation fails naming each resource. The
       dry-run is skipped for a resource whose kind the cluster does not serve
       yet when its CRD is part of the sync (or with
       ``SkipDryRunOnMissingResource=true``), and for a hook object that is
       deleted first (``BeforeHookCreation``).
    4. Step by step (phase × wave): prune, delete earlier hook objects
       (``BeforeHookCreation``), apply (server-side apply, field manager
       ``syncwright``, ``force`` — parallel within runs of one kind), then
       wait. A sync with several steps or any hook waits after each step
       until every resource is Healthy, Suspended or has no health check and
       every hook is Healthy (Job Complete, Pod Succeeded); Degraded fails
       the step (Unknown too for hooks). A single-step sync without hooks
       ends right after the apply, as in Argo CD. Argo CD sleeps 2 s between
       waves; here the delay (``SyncRequest.wave_delay``) defaults to 0.
    5. On failure the ``SyncFail`` hooks run and the operation is
       ``Failed``; hooks with ``HookFailed`` are deleted. On success hooks
       with ``HookSucceeded`` are deleted. ``BeforeHookCreation`` is the
       default policy. ``generateName`` hooks get the name
       ``<generateName><revision[:7]>-<phase>-<unix start>``.

Sync options
    App-level ``syncPolicy.syncOptions`` (and ``--sync-option``), overridden
    per resource by ``argocd.argoproj.io/sync-options``: ``Prune=false``,
    ``Prune=confirm`` (pruned only once the Application carries the
    ``argocd.argoproj.io/deletion-approved`` annotation; otherwise PruneSkipped),
    ``Delete=false`` (for app deletion), ``Validate=false``,
    ``SkipDryRunOnMissingResource=true``, ``CreateNamespace=true``,
    ``PruneLast=true``, ``ApplyOutOfSyncOnly=true`` (Synced resources are not
    written; hooks always run), ``ServerSideApply=false`` (client-side apply
    with the last-applied annotation), ``Replace=true`` (create/replace),
    ``Force=true`` (with Replace: delete and re-create),
    ``PrunePropagationPolicy=foreground|background|orphan``,
    ``RespectIgnoreDifferences=true`` (JSON-pointer rules: live values kept),
    ``FailOnSharedResource=true``.

Operations
    ``Running`` → ``Succeeded`` | ``Failed`` | ``Error``; ``Terminating`` when
    asked to stop. Per-resource results are kept in execution order. Failed
    operations are retried per ``syncPolicy.retry``. Successful syncs are
    added to the history (``revisionHistoryLimit``, default 10). An operation
    left ``Running`` by a process that died is marked ``Error`` when the next
    one starts.
"""

from .execute import SyncEngine, SyncRequest
from .operation import FileStore, HistoryEntry, OperationState, OperationStore, ResourceResult
from .plan import Plan, ResourceSelector, build_plan

__all__ = [
    "SyncEngine", "SyncRequest", "FileStore", "HistoryEntry", "OperationState", "OperationStore",
    "ResourceResult", "Plan", "ResourceSelector", "build_plan",
]
