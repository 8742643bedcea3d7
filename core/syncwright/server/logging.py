"""JSON log lines: one object per line with the app, revision and operation id when known.

Callers pass context through ``logging`` extras — ``log.info("synced",
extra={"app": name, "revision": sha, "operation": op_id})`` — and the
formatter lifts those keys (plus any other non-standard extras) into the JSON
object. Messages are written as given; never log objects that may be Secrets.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import datetime, timezone
from typing import Any, TextIO

#: the attributes every LogRecord has; anything else came in through ``extra``
_STANDARD = set(vars(logging.LogRecord("x", 0, "x", 0, "x", None, None))) | {"message", "asctime", "taskName"}
#: extras with well-known names get stable JSON keys
FIELDS = {"app": "app", "revision": "revision", "operation": "operation_id", "operation_id": "operation_id"}


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON object: time, level, logger, msg, and the extras."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key in _STANDARD or key.startswith("_"):
                continue
            out[FIELDS.get(key, key)] = value if isinstance(value, (str, int, float, bool, type(None))) else str(value)
        if record.exc_info and record.exc_info[0] is not None:
            out["error"] = f"{record.exc_info[0].__name__}: {record.exc_info[1]}"
        return json.dumps(out, separators=(",", ":"), ensure_ascii=False)


def setup(level: str = "info", stream: TextIO | None = None, fmt: str = "json") -> logging.Handler:
    """Send the ``syncwright`` loggers to ``stream`` (stderr) as JSON (or plain text with ``fmt="text"``)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    text = logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s")
    handler.setFormatter(JsonFormatter() if fmt == "json" else text)
    logger = logging.getLogger("syncwright")
    for old in list(logger.handlers):
        if getattr(old, "_syncwright", False):
            logger.removeHandler(old)
    handler._syncwright = True  # type: ignore[attr-defined]
    logger.addHandler(handler)
    logger.setLevel(level.upper())
    logger.propagate = False
    return handler
