"""AppProjects: which repos, destinations, resource kinds and app namespaces an app may use.

Argo CD's rules (``pkg/apis/application/v1alpha1/app_project_types.go``):

- ``sourceRepos``: globs; a ``!`` pattern denies whatever else allows; a repo
  must match at least one positive pattern.
- ``destinations``: ``{server, name, namespace}`` globs; a destination is
  permitted when some entry matches it and no ``!`` entry does.
- cluster-scoped kinds need ``clusterResourceWhitelist`` (empty = none
  allowed) and must not be in ``clusterResourceBlacklist``; namespaced kinds
  pass an empty ``namespaceResourceWhitelist`` and must not be in
  ``namespaceResourceBlacklist``. Entries are ``{group, kind}`` globs.
- ``sourceNamespaces``: an app defined outside the controller's own namespace
  must be in one of these namespaces (globs).
- ``default``: when no AppProject named ``default`` is defined it allows everything.

Checks run before rendering (sources, destination, app namespace) and before
every write (each target's kind); a violation is a condition on the app with
a message naming the project, the rule and the offending value.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from typing import Any

from ..errors import SpecError
from ..execution import redact_url
from ..model import Application

API_VERSIONS = ("argoproj.io/v1alpha1", "syncwright.dev/v1alpha1")


@dataclass(frozen=True)
class GroupKind:
    group: str = "*"
    kind: str = "*"

    def matches(self, group: str, kind: str) -> bool:
        return fnmatch.fnmatchcase(group, self.group or "") and fnmatch.fnmatchcase(kind, self.kind or "*")


@dataclass(frozen=True)
class ProjectDestination:
    server: str = ""
    name: str = ""
    namespace: str = ""


@dataclass(frozen=True)
class AppProject:
    name: str
    source_repos: tuple[str, ...] = ()
    destinations: tuple[ProjectDestination, ...] = ()
    cluster_whitelist: tuple[GroupKind, ...] = ()
    cluster_blacklist: tuple[GroupKind, ...] = ()
    namespace_whitelist: tuple[GroupKind, ...] = ()
    namespace_blacklist: tuple[GroupKind, ...] = ()
    source_namespaces: tuple[str, ...] = ()
    description: str = ""
    source: str = field(default="", compare=False)


#: The built-in ``default`` project: everything allowed.
DEFAULT_PROJECT = AppProject(
    "default", source_repos=("*",), destinations=(ProjectDestination("*", "*", "*"),),
    cluster_whitelist=(GroupKind("*", "*"),), source_namespaces=("*",), source="built-in",
)


def _str_list(spec: dict[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = spec.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise SpecError(f"spec.{key} must be a list of strings", context=where)
    return tuple(value)


def _group_kinds(spec: dict[str, Any], key: str, where: str) -> tuple[GroupKind, ...]:
    out = []
    for i, entry in enumerate(spec.get(key) or []):
        if not isinstance(entry, dict) or not isinstance(entry.get("kind", ""), str):
            raise SpecError(f"spec.{key}[{i}] must be a mapping with group and kind", context=where)
        out.append(GroupKind(str(entry.get("group") or ""), str(entry.get("kind") or "")))
    return tuple(out)


def parse_project(doc: Any, source: str) -> AppProject:
    """An AppProject document → ``AppProject``; errors name the file and the field."""
    if not isinstance(doc, dict) or doc.get("kind") != "AppProject":
        raise SpecError("expected an AppProject mapping", context=source)
    if doc.get("apiVersion") not in API_VERSIONS:
        raise SpecError(f"apiVersion {doc.get('apiVersion')!r} is not one of {', '.join(API_VERSIONS)}", context=source)
    name = (doc.get("metadata") or {}).get("name")
    if not isinstance(name, str) or not name:
        raise SpecError("metadata.name is required", context=source)
    where = f"{source} (AppProject {name})"
    spec = doc.get("spec") or {}
    if not isinstance(spec, dict):
        raise SpecError("spec must be a mapping", context=where)
    dests = []
    for i, d in enumerate(spec.get("destinations") or []):
        if not isinstance(d, dict):
            raise SpecError(f"spec.destinations[{i}] must be a mapping", context=where)
        dests.append(ProjectDestination(str(d.get("server") or ""), str(d.get("name") or ""),
                                        str(d.get("namespace") or "")))
    return AppProject(
        name, _str_list(spec, "sourceRepos", where), tuple(dests),
        _group_kinds(spec, "clusterResourceWhitelist", where), _group_kinds(spec, "clusterResourceBlacklist", where),
        _group_kinds(spec, "namespaceResourceWhitelist", where), _group_kinds(spec, "namespaceResourceBlacklist", where),
        _str_list(spec, "sourceNamespaces", where), str(spec.get("description") or ""), source,
    )


def _glob(pattern: str, value: str) -> bool:
    return fnmatch.fnmatchcase(value, pattern)


def repo_permitted(project: AppProject, repo: str) -> bool:
    repo = repo.rstrip("/")
    if any(p.startswith("!") and _glob(p[1:].rstrip("/"), repo) for p in project.source_repos):
        return False
    return any(not p.startswith("!") and _glob(p.rstrip("/"), repo) for p in project.source_repos)


def _dest_match(entry: ProjectDestination, server: str, name: str, namespace: str) -> tuple[bool, bool]:
    """(matches, is a deny entry) for one project destination."""
    deny = entry.server.startswith("!") or entry.name.startswith("!") or entry.namespace.startswith("!")
    ns_pat = entry.namespace.lstrip("!") or "*"
    if not _glob(ns_pat, namespace):
        return False, deny
    if entry.server:
        if not _glob(entry.server.lstrip("!"), server):
            return False, deny
    if entry.name:
        if not _glob(entry.name.lstrip("!"), name):
            return False, deny
    if not entry.server and not entry.name:
        return False, deny
    return True, deny


def destination_permitted(project: AppProject, server: str, name: str, namespace: str) -> bool:
    matches = [_dest_match(e, server, name, namespace) for e in project.destinations]
    if any(m and deny for m, deny in matches):
        return False
    return any(m and not deny for m, deny in matches)


def kind_permitted(project: AppProject, group: str, kind: str, namespaced: bool) -> bool:
    if namespaced:
        allowed = not project.namespace_whitelist or any(g.matches(group, kind) for g in project.namespace_whitelist)
        return allowed and not any(g.matches(group, kind) for g in project.namespace_blacklist)
    allowed = any(g.matches(group, kind) for g in project.cluster_whitelist)
    return allowed and not any(g.matches(group, kind) for g in project.cluster_blacklist)


class Projects:
    """The known AppProjects, with ``default`` allowing all unless defined."""

    def __init__(self, projects: dict[str, AppProject] | None = None, control_namespace: str = "") -> None:
        self.projects = dict(projects or {})
        self.control_namespace = control_namespace

    def get(self, name: str) -> AppProject | None:
        found = self.projects.get(name)
        if found is None and name == "default":
            return DEFAULT_PROJECT
        return found

    def check_app(self, app: Application, server: str, cluster_name: str) -> list[str]:
        """Violations found before rendering: project exists, app namespace, sources, destination."""
        name = app.spec.project or "default"
        project = self.get(name)
        if project is None:
            return [f"Application referencing project {name} which does not exist"]
        problems = []
        app_ns = app.metadata.namespace
        if app_ns and self.control_namespace and app_ns != self.control_namespace and not any(
                _glob(p, app_ns) for p in project.source_namespaces):
            problems.append(f"application in namespace {app_ns!r} is not permitted by project {name!r} "
                            f"(sourceNamespaces: {', '.join(project.source_namespaces) or 'none'})")
        for source in app.spec.effective_sources():
            if not repo_permitted(project, source.repo_url):
                problems.append(f"application repo {redact_url(source.repo_url)} is not permitted in project {name!r}")
        dest = app.spec.destination
        if not destination_permitted(project, server, cluster_name, dest.namespace):
            where = f"server {server!r}" + (f" (name {cluster_name!r})" if cluster_name else "")
            problems.append(f"application destination {where} namespace {dest.namespace!r} is not permitted "
                            f"in project {name!r}")
        return problems

    def check_resources(self, app: Application, objs: list[dict[str, Any]], namespaced: Any, *,
                        server: str = "", cluster_name: str = "") -> list[str]:
        """Violations among the objects an operation would write; ``namespaced(obj)`` → bool."""
        name = app.spec.project or "default"
        project = self.get(name)
        if project is None:
            return [f"Application referencing project {name} which does not exist"]
        problems = []
        for obj in objs:
            api = str(obj.get("apiVersion") or "")
            group = api.split("/")[0] if "/" in api else ""
            kind = str(obj.get("kind") or "")
            meta = obj.get("metadata") or {}
            gk = f"{group}/{kind}" if group else kind
            is_ns = bool(namespaced(obj))
            if not kind_permitted(project, group, kind, is_ns):
                lists = "namespaceResourceWhitelist/Blacklist" if is_ns else "clusterResourceWhitelist/Blacklist"
                problems.append(f"resource {gk}:{meta.get('name', '')} is not permitted in project {name!r} "
                                f"({'namespaced' if is_ns else 'cluster-scoped'} kind, see {lists})")
                continue
            ns = str(meta.get("namespace") or app.dest_namespace)
            if is_ns and ns != app.dest_namespace and not destination_permitted(project, server, cluster_name, ns):
                problems.append(f"resource {gk}:{meta.get('name', '')} targets namespace {ns!r}, which the "
                                f"destinations of project {name!r} do not permit")
        return problems
