"""Retry policy of failed operations: ``syncPolicy.retry`` (limit, backoff duration/factor/maxDuration).

As Argo CD: attempt ``n`` (0-based retry count) waits
``min(duration * factor**n, maxDuration)``; a negative limit retries forever;
defaults are 5s, factor 2, max 3m.
"""

from __future__ import annotations

import re

from ..errors import SpecError
from ..model import Retry

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")


def parse_duration(value: str | int | float, what: str = "duration") -> float:
    """Go-style durations (``5s``, ``1m30s``, ``250ms``) or plain seconds → seconds."""
    if isinstance(value, (int, float)):
        return float(value)
    text = value.strip()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    parts = _PART.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise SpecError(f"{what} {value!r} is not a duration like 5s, 1m30s or 250ms")
    return sum(float(n) * _UNITS[u] for n, u in parts)


def delay(retry: Retry, attempt: int) -> float:
    """Seconds to wait before retry number ``attempt`` (0 = the first retry)."""
    base = parse_duration(retry.backoff.duration, "retry.backoff.duration")
    cap = parse_duration(retry.backoff.max_duration, "retry.backoff.maxDuration")
    factor = max(1, int(retry.backoff.factor or 1))
    return float(min(base * factor ** attempt, cap))


def allowed(retry: Retry | None, attempts_done: int) -> bool:
    """May the operation be retried after ``attempts_done`` retries?"""
    if retry is None or retry.limit == 0:
        return False
    return retry.limit < 0 or attempts_done < retry.limit
