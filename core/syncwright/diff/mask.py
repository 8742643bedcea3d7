"""Secret masking for every diff and API output (Argo CD's ``HideSecretData``).

Each value under a Secret's ``data`` (and ``stringData``) is replaced by
``++++++++`` plus four more ``+`` per distinct value, consistently across the
target, the live object and both sides' last-applied annotations — so a
changed secret still shows as changed, and equal values stay equal, while no
value is revealed.
"""

from __future__ import annotations

import base64
import copy
import json
from typing import Any

from .merge import LAST_APPLIED


def is_secret(obj: dict[str, Any] | None) -> bool:
    return bool(obj) and obj.get("kind") == "Secret" and str(obj.get("apiVersion", "")) == "v1"  # type: ignore[union-attr]


def _values(obj: dict[str, Any] | None) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    if not obj:
        return out
    for k, v in (obj.get("data") or {}).items():
        out.setdefault(k, []).append(str(v))
    for k, v in (obj.get("stringData") or {}).items():
        out.setdefault(k, []).append(base64.b64encode(str(v).encode()).decode())
    return out


def _last_applied(obj: dict[str, Any] | None) -> dict[str, Any] | None:
    text = ((obj or {}).get("metadata") or {}).get("annotations", {}).get(LAST_APPLIED)
    if not isinstance(text, str):
        return None
    try:
        parsed = json.loads(text)
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def mask_secrets(*objs: dict[str, Any] | None) -> list[dict[str, Any] | None]:
    """Masked copies of ``objs`` (all Secrets of one comparison); non-Secrets pass through."""
    if not any(is_secret(o) for o in objs):
        return list(objs)
    applied = [_last_applied(o) for o in objs]
    replacement: dict[str, str] = {}
    width = 8
    for source in (*objs, *applied):
        for values in _values(source).values():
            for v in values:
                if v not in replacement:
                    replacement[v] = "+" * width
                    width += 4

    def mask(o: dict[str, Any] | None) -> dict[str, Any] | None:
        if o is None:
            return None
        m = copy.deepcopy(o)
        for field in ("data", "stringData"):
            if isinstance(m.get(field), dict):
                encode = field == "stringData"
                m[field] = {
                    k: replacement.get(base64.b64encode(str(v).encode()).decode() if encode else str(v), "++++++++")
                    for k, v in m[field].items()
                }
        return m

    out: list[dict[str, Any] | None] = []
    for obj, la in zip(objs, applied):
        masked = mask(obj)
        if masked is not None and la is not None:
            # an unparsable annotation is masked whole rather than risk a leak
            masked["metadata"]["annotations"][LAST_APPLIED] = (
                json.dumps(mask(la), sort_keys=True) if la else "++++++++"
            )
        out.append(masked)
    return out
