"""The diff layer: normalization, ownership-aware comparison, ignoreDifferences, secret masking.

Pure functions over plain dicts; the cluster layer supplies live objects.
"""

from .engine import DEFAULT_MANAGER, ResourceDiff, compare_options, diff_resource, normalize_target
from .ignore import IgnoreRule, compile_rules
from .mask import mask_secrets
from .app import AppComparison, ResourceComparison, compare_app

__all__ = [
    "DEFAULT_MANAGER", "ResourceDiff", "compare_options", "diff_resource", "normalize_target",
    "IgnoreRule", "compile_rules", "mask_secrets", "AppComparison", "ResourceComparison", "compare_app",
]
