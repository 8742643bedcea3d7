"""Suite-wide set-up: every test session gets private cache and state directories."""

from __future__ import annotations

import os
import tempfile


def pytest_configure(config: object) -> None:
    # Keep the user's ~/.cache/syncwright and ~/.local/state/syncwright out of the tests.
    base = tempfile.mkdtemp(prefix="sw-test-")
    os.environ.setdefault("SYNCWRIGHT_CACHE", os.path.join(base, "cache"))
    os.environ.setdefault("SYNCWRIGHT_STATE", os.path.join(base, "state"))
