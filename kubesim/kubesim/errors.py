"""API errors rendered as `Status` bodies shaped like kube-apiserver's.

Clients (kubectl, client-go, the Python client) read `reason`, `code` and
`details` to decide what to do (retry, fall back, treat as not-found), so the
shape matters as much as the HTTP status code.
"""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """An error answered to the client as a `Status` object."""

    def __init__(
        self,
        code: int,
        reason: str,
        message: str,
        *,
        name: str | None = None,
        group: str | None = None,
        kind: str | None = None,
        causes: list[dict[str, str]] | None = None,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.name = name
        self.group = group
        self.kind = kind
        self.causes = causes
        self.retry_after = retry_after

    def status(self) -> dict[str, Any]:
        """The `Status` body for this error."""
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        details: dict[str, Any] = {}
        if self.name is not None:
            details["name"] = self.name
        if self.group:
            details["group"] = self.group
        if self.kind is not None:
            details["kind"] = self.kind
        if self.causes:
            details["causes"] = self.causes
        if self.retry_after is not None:
            details["retryAfterSeconds"] = self.retry_after
        if details:
            body["details"] = details
        return body


def _res(resource: str, group: str) -> str:
    return f"{resource}.{group}" if group else resource


def not_found(resource: str, group: str, name: str) -> ApiError:
    return ApiError(404, "NotFound", f'{_res(resource, group)} "{name}" not found',
                    name=name, group=group, kind=resource)


def resource_not_found() -> ApiError:
    return ApiError(404, "NotFound", "the server could not find the requested resource",
                    causes=None)


def already_exists(resource: str, group: str, name: str) -> ApiError:
    return ApiError(409, "AlreadyExists", f'{_res(resource, group)} "{name}" already exists',
                    name=name, group=group, kind=resource)


def conflict(resource: str, group: str, name: str) -> ApiError:
    return ApiError(
        409, "Conflict",
        f'Operation cannot be fulfilled on {_res(resource, group)} "{name}": the object has '
        "been modified; please apply your changes to the latest version and try again",
        name=name, group=group, kind=resource)


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def invalid(kind: str, group: str, name: str,
            causes: list[tuple[str, str | None, str]]) -> ApiError:
    """422 Invalid; `causes` are (field, bad value, explanation)."""
    parts = [f"{f}: Invalid value: {_quote(v)}: {why}" if v is not None else f"{f}: {why}"
             for f, v, why in causes]
    msg = f'{kind}.{group} "{name}" is invalid: ' if group else f'{kind} "{name}" is invalid: '
    if len(parts) == 1:
        msg += parts[0]
    else:
        msg += "[" + ", ".join(parts) + "]"
    return ApiError(
        422, "Invalid", msg, name=name, group=group, kind=kind,
        causes=[{"reason": _cause_reason(v, why),
                 "message": (f"Invalid value: {_quote(v)}: {why}" if v is not None else why),
                 "field": f} for f, v, why in causes])


def _cause_reason(value: str | None, why: str) -> str:
    if value is not None or why.startswith("Invalid value"):
        return "FieldValueInvalid"
    if why.startswith("Unsupported value"):
        return "FieldValueNotSupported"
    return "FieldValueRequired"


def _quote(v: str) -> str:
    return '"' + v.replace('"', '\\"') + '"'


def method_not_allowed(verb: str) -> ApiError:
    return ApiError(405, "MethodNotAllowed",
                    f"the server does not allow this method on the requested resource ({verb})")


def unsupported_media_type(ctype: str, accepted: list[str]) -> ApiError:
    return ApiError(
        415, "UnsupportedMediaType",
        f"the body of the request was in an unknown format - accepted media types include: "
        f"{', '.join(accepted)}")


def too_large(limit: int) -> ApiError:
    return ApiError(413, "RequestEntityTooLarge", f"Request entity too large: limit is {limit}")


def gone(requested: int, oldest: int) -> ApiError:
    return ApiError(410, "Expired", f"too old resource version: {requested} ({oldest})")


def unauthorized() -> ApiError:
    return ApiError(401, "Unauthorized", "Unauthorized")


def forbidden_terminating(resource: str, group: str, name: str, namespace: str) -> ApiError:
    return ApiError(
        403, "Forbidden",
        f'{_res(resource, group)} "{name}" is forbidden: unable to create new content in '
        f"namespace {namespace} because it is being terminated",
        name=name, group=group, kind=resource,
        causes=[{"reason": "NamespaceTerminating",
                 "message": f"namespace {namespace} is being terminated",
                 "field": "metadata.namespace"}])


def namespace_not_found(namespace: str) -> ApiError:
    return ApiError(404, "NotFound", f'namespaces "{namespace}" not found',
                    name=namespace, kind="namespaces")
