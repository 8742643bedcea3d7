"""The schema/patch/SSA/defaulting engine (the schema modules), behind one seam.

The server code imports these names from here only, so the boundary between
the HTTP/storage side and the type-aware side stays in one place.
"""
from __future__ import annotations

from .defaults import apply_defaults
from .patch import (MalformedPatch, PatchError, apply_json_patch, apply_merge_patch,
                    apply_strategic_merge_patch)
from .schema import GVK, Schema
from .ssa import Conflict, record_update
from .ssa import apply as ssa_apply

__all__ = ["GVK", "Schema", "MalformedPatch", "PatchError", "apply_json_patch", "apply_merge_patch",
           "apply_strategic_merge_patch", "Conflict", "ssa_apply", "record_update",
           "apply_defaults"]
