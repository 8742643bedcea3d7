"""Kubernetes resource quantities, so ``1000m`` equals ``1`` and ``1Gi`` equals ``1024Mi``."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

_QUANTITY = re.compile(r"^([+-]?(?:\d+(?:\.\d*)?|\.\d+))(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?\d+)?$")
_SUFFIX = {
    "": Decimal(1), "n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"),
    "k": Decimal(10) ** 3, "M": Decimal(10) ** 6, "G": Decimal(10) ** 9, "T": Decimal(10) ** 12,
    "P": Decimal(10) ** 15, "E": Decimal(10) ** 18,
    "Ki": Decimal(2) ** 10, "Mi": Decimal(2) ** 20, "Gi": Decimal(2) ** 30, "Ti": Decimal(2) ** 40,
    "Pi": Decimal(2) ** 50, "Ei": Decimal(2) ** 60,
}

#: Parents whose values are quantities (container resources, quotas, PVC storage, ...).
QUANTITY_PARENTS = frozenset({"limits", "requests", "capacity", "allocatable", "hard", "used"})
QUANTITY_KEYS = frozenset({"sizeLimit", "storage"})


def parse_quantity(value: object) -> Decimal | None:
    """The numeric value of a quantity string or number, or None if it is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return Decimal(str(value))
    if not isinstance(value, str):
        return None
    m = _QUANTITY.match(value.strip())
    if not m:
        return None
    try:
        number = Decimal(m.group(1))
    except InvalidOperation:
        return None
    suffix = m.group(2) or ""
    if suffix[:1] in ("e", "E"):
        return number * (Decimal(10) ** int(suffix[1:]))
    return number * _SUFFIX[suffix]


def is_quantity_path(parent: str | None, key: str | None) -> bool:
    return parent in QUANTITY_PARENTS or key in QUANTITY_KEYS


def equivalent(a: object, b: object) -> bool:
    """Two quantity values that Kubernetes treats as equal."""
    qa, qb = parse_quantity(a), parse_quantity(b)
    return qa is not None and qa == qb
