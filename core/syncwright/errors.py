"""The error taxonomy. Every failure a user sees is one of these, with context.

A message names what failed (app, source, file, resource) and why; the CLI
prints ``str(error)`` and never a traceback.
"""

from __future__ import annotations


class SyncwrightError(Exception):
    """Base class: a failure with a user-facing message."""

    def __init__(self, message: str, *, context: str | None = None) -> None:
        self.message = message
        self.context = context
        super().__init__(f"{context}: {message}" if context else message)

    def with_context(self, context: str) -> SyncwrightError:
        """Return a copy of this error prefixed with more context (outermost first)."""
        combined = f"{context}: {self.context}" if self.context else context
        err = type(self).__new__(type(self))
        err.__dict__.update(self.__dict__)
        err.context = combined
        Exception.__init__(err, f"{combined}: {self.message}")
        return err


class SpecError(SyncwrightError):
    """An Application/AppProject or tool option is invalid."""


class ManifestError(SyncwrightError):
    """A rendered or repo manifest cannot be parsed or is not a valid object."""


class PathEscapeError(SyncwrightError):
    """Repo content tried to reach outside the repository root."""


class RenderError(SyncwrightError):
    """A source could not be rendered."""


class ToolError(RenderError):
    """An external tool failed, timed out, flooded its output, or is missing."""


class ToolNotFoundError(ToolError):
    """The binary a plugin drives is not installed."""


class PluginError(SyncwrightError):
    """A plugin failed to load or misbehaved."""


class OperationVetoed(SyncwrightError):
    """Raised by a ``syncwright_sync_hook`` impl at operation start to refuse it."""
