"""Applying an Application's ``kustomize:`` options to a kustomization file.

Argo CD applies these options by running ``kustomize edit set/add ...`` in the
app directory before ``kustomize build`` (``util/kustomize/kustomize.go``).
``kubectl kustomize`` has no ``edit``, so this module reproduces what those
edit commands write (kustomize v5 ``commands/edit``), on a parsed copy of the
kustomization, in Argo CD's order: namePrefix, nameSuffix, images, replicas,
commonLabels, commonAnnotations, namespace, patches, components. The same
edits are used whichever binary builds, so the output never depends on it.
"""

from __future__ import annotations

import glob
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from syncwright.api import KustomizeOptions, RenderError, SpecError

KUSTOMIZATION_NAMES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
MAX_KUSTOMIZATION_BYTES = 5 * 1024 * 1024
FIELD = "spec.source.kustomize"


def find_kustomization(directory: Path) -> Path | None:
    """The kustomization file of ``directory``, in kustomize's (and Argo CD's) name order."""
    for name in KUSTOMIZATION_NAMES:
        candidate = directory / name
        if candidate.is_file():
            return candidate
    return None


# --- reading and writing ------------------------------------------------------------


_Base: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when available: 10x faster


class _Loader(_Base):  # type: ignore[misc]
    """YAML 1.2-style scalars: ``yes``/``on``/dates stay strings, as kustomize reads them.

    A round trip through PyYAML's YAML 1.1 resolvers would turn ``on: x`` into
    ``true: x`` and change what kustomize sees in fields we do not touch.
    """


_Loader.yaml_implicit_resolvers = {}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:null", re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""]
)
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:int", re.compile(r"^[-+]?(?:0|[1-9][0-9]*)$"), list("-+0123456789")
)
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^(?:[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"),
    list("-+0123456789."),
)
_Loader.add_implicit_resolver("tag:yaml.org,2002:merge", re.compile(r"^(?:<<)$"), ["<"])


def load_kustomization(path: Path, shown: str) -> dict[str, Any]:
    """Parse a kustomization file; errors name ``shown`` (its repo path) and the line."""
    try:
        size = path.stat().st_size
        if size > MAX_KUSTOMIZATION_BYTES:
            raise RenderError(f"{shown}: kustomization is {size} bytes, over the {MAX_KUSTOMIZATION_BYTES} byte limit")
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise RenderError(f"{shown}: not valid UTF-8 ({e.reason})") from e
    except OSError as e:
        raise RenderError(f"{shown}: cannot read: {e.strerror or e}") from e
    try:
        docs = [d for d in yaml.load_all(text, Loader=_Loader) if d is not None]
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = f" line {mark.line + 1} column {mark.column + 1}" if mark is not None else ""
        problem = e.problem or e.context or "invalid YAML"
        raise RenderError(f"{shown}{where}: invalid YAML: {problem}") from e
    except yaml.YAMLError as e:
        raise RenderError(f"{shown}: invalid YAML: {e}") from e
    if not docs:
        return {}
    if len(docs) > 1:
        raise RenderError(f"{shown}: a kustomization must be a single YAML document, found {len(docs)}")
    if not isinstance(docs[0], dict):
        raise RenderError(f"{shown}: a kustomization must be a mapping, got {type(docs[0]).__name__}")
    return docs[0]


class _Dumper(yaml.SafeDumper):
    """Quotes every string a YAML 1.1 reader (kustomize's) would take for another type.

    PyYAML already quotes ``yes``/``on``/``1:20``/dates; Go's yaml also reads
    ``y``/``n`` as booleans, so those are quoted too.
    """


_Dumper.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:y|Y|n|N)$"), list("yYnN"))


def dump_kustomization(doc: Mapping[str, Any]) -> str:
    """Serialise an edited kustomization (strings that look like other types get quoted)."""
    return yaml.dump(dict(doc), Dumper=_Dumper, sort_keys=False, default_flow_style=False, allow_unicode=True,
                     width=1 << 20)


# --- the plan: option values after Argo CD's $VAR substitution ------------------------


@dataclass(frozen=True)
class EditPlan:
    """The edits one Application asks for, with ``$VAR``s already substituted."""

    name_prefix: str = ""
    name_suffix: str = ""
    images: tuple[str, ...] = ()
    replicas: tuple[tuple[str, int], ...] = ()
    common_labels: Mapping[str, str] = field(default_factory=dict)
    force_common_labels: bool = False
    label_without_selector: bool = False
    label_include_templates: bool = False
    common_annotations: Mapping[str, str] = field(default_factory=dict)
    force_common_annotations: bool = False
    namespace: str = ""
    patches: tuple[dict[str, Any], ...] = ()
    components: tuple[str, ...] = ()
    ignore_missing_components: bool = False

    def is_empty(self) -> bool:
        return self == EditPlan()


def plan_edits(opts: KustomizeOptions | None, envsubst: Callable[[str], str]) -> EditPlan:
    """Turn the spec's options into an EditPlan (Argo CD's envsubst rules, §5).

    Images and commonLabels values are always substituted; commonAnnotations
    values only with ``commonAnnotationsEnvsubst``.
    """
    if opts is None:
        return EditPlan()
    replicas = []
    for i, r in enumerate(opts.replicas):
        try:
            count = int(r.count) if not isinstance(r.count, bool) else None
        except ValueError:
            count = None
        if count is None:
            raise SpecError(f"{FIELD}.replicas[{i}].count: expected an integer count for {r.name!r}, got {r.count!r}")
        replicas.append((r.name, count))
    annotations = dict(opts.common_annotations)
    if opts.common_annotations_envsubst:
        annotations = {k: envsubst(v) for k, v in annotations.items()}
    return EditPlan(
        name_prefix=opts.name_prefix,
        name_suffix=opts.name_suffix,
        images=tuple(envsubst(i) for i in opts.images),
        replicas=tuple(replicas),
        common_labels={k: envsubst(v) for k, v in opts.common_labels.items()},
        force_common_labels=opts.force_common_labels,
        label_without_selector=opts.label_without_selector,
        label_include_templates=opts.label_include_templates,
        common_annotations=annotations,
        force_common_annotations=opts.force_common_annotations,
        namespace=opts.namespace,
        patches=tuple(p.model_dump(by_alias=True, exclude_defaults=True, exclude_none=True) for p in opts.patches),
        components=tuple(opts.components),
        ignore_missing_components=opts.ignore_missing_components,
    )


def edit_commands(plan: EditPlan) -> list[list[str]]:
    """The ``kustomize edit`` argv lists Argo CD would run for ``plan`` (patches have none)."""
    cmds: list[list[str]] = []
    if plan.name_prefix:
        cmds.append(["edit", "set", "nameprefix", "--", plan.name_prefix])
    if plan.name_suffix:
        cmds.append(["edit", "set", "namesuffix", "--", plan.name_suffix])
    if plan.images:
        cmds.append(["edit", "set", "image", *plan.images])
    if plan.replicas:
        cmds.append(["edit", "set", "replicas", *(f"{n}={c}" for n, c in plan.replicas)])
    if plan.common_labels:
        flags = ["--force"] * plan.force_common_labels + ["--without-selector"] * plan.label_without_selector
        flags += ["--include-templates"] * plan.label_include_templates
        cmds.append(["edit", "add", "label", *flags, *(f"{k}:{v}" for k, v in plan.common_labels.items())])
    if plan.common_annotations:
        flags = ["--force"] * plan.force_common_annotations
        cmds.append(["edit", "add", "annotation", *flags, *(f"{k}:{v}" for k, v in plan.common_annotations.items())])
    if plan.namespace:
        cmds.append(["edit", "set", "namespace", "--", plan.namespace])
    if plan.components:
        cmds.append(["edit", "add", "component", *plan.components])
    return cmds


# --- the edits, one function per `kustomize edit` command ---------------------------


def apply_edits(doc: dict[str, Any], plan: EditPlan, kdir: Path, shown: str) -> dict[str, Any]:
    """Return ``doc`` edited as the ``kustomize edit`` calls of ``plan`` would leave it.

    ``kdir`` is the directory of the kustomization (for component globs);
    ``shown`` names the file in errors.
    """
    doc = dict(doc)
    if plan.name_prefix:
        doc["namePrefix"] = plan.name_prefix
    if plan.name_suffix:
        doc["nameSuffix"] = plan.name_suffix
    if plan.images:
        set_images(doc, plan.images)
    if plan.replicas:
        set_replicas(doc, plan.replicas)
    if plan.common_labels:
        add_labels(doc, plan)
    if plan.common_annotations:
        add_annotations(doc, plan.common_annotations, force=plan.force_common_annotations, shown=shown)
    if plan.namespace:
        doc["namespace"] = plan.namespace
    if plan.patches:
        existing = doc.get("patches")
        if existing is not None and not isinstance(existing, list):
            raise RenderError(f"{shown}: expected 'patches' to be a list, got {type(existing).__name__}")
        doc["patches"] = [*(existing or []), *(dict(p) for p in plan.patches)]
    if plan.components:
        add_components(doc, plan.components, kdir)
    return doc


_PRESERVE = "*"


def split_image(ref: str) -> tuple[str, str, str]:
    """kustomize's ``image.Split``: name, tag, digest (a registry port is not a tag)."""
    slash = ref.find("/")
    offset = slash if slash > 0 else 0
    search = ref[offset:]
    at, colon = search.find("@"), search.find(":")
    if colon < 0 and at < 0:
        return ref, "", ""
    if at >= 0 and (at < colon or colon < 0):
        return ref[: at + offset], "", ref[at + offset + 1:]
    if at >= 0 and colon >= 0:
        return ref[: colon + offset], ref[colon + offset + 1: at + offset], ref[at + offset + 1:]
    return ref[: colon + offset], ref[colon + offset + 1:], ""


def parse_image_arg(arg: str) -> dict[str, str]:
    """One ``kustomize edit set image`` argument → an ``images`` entry (v5 grammar)."""
    key, sep, value = arg.partition("=")
    if not sep:
        key, value = "", arg
    name, tag, digest = split_image(value)
    if name == arg:
        raise SpecError(
            f"{FIELD}.images: invalid image {arg!r}; use <image>=<newimage>[:<newtag>][@<digest>], "
            "<image>:<newtag>[@<digest>] or <image>@<digest>"
        )
    entry = {"name": key or name}
    if key:
        entry["newName"] = name
    entry["newTag"] = tag
    entry["digest"] = digest
    return entry


def set_images(doc: dict[str, Any], args: tuple[str, ...]) -> None:
    """``kustomize edit set image``: merge by name, ``*`` keeps a field, sort by name."""
    wanted: dict[str, dict[str, str]] = {}
    for arg in args:
        entry = parse_image_arg(arg)
        wanted[entry["name"]] = entry
    existing = [*(_list(doc, "images")), *(_list(doc, "imageTags"))]  # kustomize folds imageTags in on read
    doc.pop("imageTags", None)
    merged: dict[str, dict[str, Any]] = {}
    for im in existing:
        if not isinstance(im, dict):
            raise SpecError(f"kustomization 'images' entries must be mappings, got {im!r}")
        name = str(im.get("name", ""))
        arg_im = wanted.get(name)
        if arg_im is None:
            merged[name] = im
            continue
        arg_im = dict(arg_im)
        for fld in ("newName", "newTag", "digest"):
            if arg_im.get(fld) == _PRESERVE:
                arg_im[fld] = str(im.get(fld, "") or "")
        merged[name] = arg_im
    for name, arg_im in wanted.items():
        merged.setdefault(name, arg_im)
    out = []
    for name in sorted(merged):
        im = {k: ("" if v == _PRESERVE and k in ("newName", "newTag", "digest") else v) for k, v in merged[name].items()}
        out.append({k: v for k, v in im.items() if v not in ("", None) or k not in ("newName", "newTag", "digest")})
    doc["images"] = out


def set_replicas(doc: dict[str, Any], replicas: tuple[tuple[str, int], ...]) -> None:
    """``kustomize edit set replicas``: override by name, keep the others, sort by name."""
    merged: dict[str, dict[str, Any]] = {}
    for rep in _list(doc, "replicas"):
        if isinstance(rep, dict):
            merged[str(rep.get("name", ""))] = rep
    for name, count in replicas:
        merged[name] = {"name": name, "count": count}
    doc["replicas"] = [merged[n] for n in sorted(merged)]


_LABEL_NAME = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def _check_key(key: str, what: str) -> None:
    """Kubernetes qualified-name rules, which kustomize's edit validator applies."""
    prefix, _, name = key.rpartition("/")
    ok = bool(name) and len(name) <= 63 and bool(_LABEL_NAME.match(name))
    if "/" in key:
        ok = ok and bool(prefix) and len(prefix) <= 253 and bool(_DNS_SUBDOMAIN.match(prefix))
    if not ok:
        raise SpecError(f"{FIELD}.{what}: invalid key {key!r} (a qualified name: [prefix/]name, name of at most "
                        "63 alphanumerics, '-', '_' or '.', starting and ending alphanumeric)")


def _split_pairs(pairs: Mapping[str, str], what: str) -> dict[str, str]:
    """What kustomize makes of Argo CD's ``k:v`` arguments: split at the first ':', strip quotes."""
    out: dict[str, str] = {}
    for k, v in pairs.items():
        arg = f"{k}:{v}"
        colon = arg.find(":")
        if colon == 0:
            raise SpecError(f"{FIELD}.{what}: invalid entry {arg!r} (a key is required)")
        key, value = arg[:colon], arg[colon + 1:]
        if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
            value = value[1:-1]
        out[key] = value
    return out


def add_labels(doc: dict[str, Any], plan: EditPlan) -> None:
    """``kustomize edit add label [--force] [--without-selector [--include-templates]]``."""
    if plan.label_include_templates and not plan.label_without_selector:
        raise SpecError(f"{FIELD}: labelIncludeTemplates requires labelWithoutSelector "
                        "(kustomize: --without-selector flag must be specified for --include-templates to work)")
    labels = _split_pairs(plan.common_labels, "commonLabels")
    for key, value in labels.items():
        _check_key(key, "commonLabels")
        if len(value) > 63 or not _LABEL_NAME.match(value):
            raise SpecError(f"{FIELD}.commonLabels: invalid value {value!r} for label {key!r} (at most 63 "
                            "alphanumerics, '-', '_' or '.', starting and ending alphanumeric)")
    if plan.label_without_selector:
        entry: dict[str, Any] = {"pairs": dict(sorted(labels.items()))}
        if plan.label_include_templates:
            entry["includeTemplates"] = True
        existing = doc.get("labels")
        if existing is not None and not isinstance(existing, list):
            raise SpecError(f"kustomization 'labels' must be a list, got {type(existing).__name__}")
        doc["labels"] = [*(existing or []), entry]
        return
    doc["commonLabels"] = _write_map(doc.get("commonLabels"), labels, "commonLabels", "label", plan.force_common_labels)


def add_annotations(doc: dict[str, Any], pairs: Mapping[str, str], *, force: bool, shown: str) -> None:
    """``kustomize edit add annotation [--force]``."""
    annotations = _split_pairs(pairs, "commonAnnotations")
    for key in annotations:
        _check_key(key, "commonAnnotations")
    doc["commonAnnotations"] = _write_map(doc.get("commonAnnotations"), annotations, "commonAnnotations", "annotation", force)


def _write_map(current: Any, new: Mapping[str, str], fld: str, kind: str, force: bool) -> dict[str, Any]:
    if current is not None and not isinstance(current, dict):
        raise SpecError(f"kustomization {fld!r} must be a mapping, got {type(current).__name__}")
    out = dict(current or {})
    for key, value in new.items():
        if key in out and not force:
            flag = "forceCommonLabels" if kind == "label" else "forceCommonAnnotations"
            raise SpecError(f"{FIELD}.{fld}: {kind} {key} already in kustomization file (set {flag} to override)")
        out[key] = value
    return out


def add_components(doc: dict[str, Any], components: tuple[str, ...], kdir: Path) -> None:
    """``kustomize edit add component``: glob each path, skip ones already listed."""
    current = [str(c) for c in _list(doc, "components")]
    for pattern in components:
        if any(ch in pattern for ch in "*?["):
            matches = sorted(glob.glob(pattern, root_dir=kdir))
            if not matches:
                raise SpecError(f"{FIELD}.components: {pattern!r} has no match")
        else:
            matches = [pattern]
        for comp in matches:
            if comp not in current:
                current.append(comp)
    doc["components"] = current


def _list(doc: Mapping[str, Any], key: str) -> list[Any]:
    value = doc.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise SpecError(f"kustomization {key!r} must be a list, got {type(value).__name__}")
    return value
