"""One error shape for the whole API: {"error": {"code", "message", "details"}}."""

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from caisi_portal.errors import ApplicationError, TransitionRefused

CODES = {
    400: "invalid",
    401: "not_authenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    429: "throttled",
}


def error_response(status_code: int, message: str, *, code: str | None = None, details=None, headers=None):
    body = {"error": {"code": code or CODES.get(status_code, "error"), "message": message, "details": details or {}}}
    return Response(body, status=status_code, headers=headers)


def _first_message(detail) -> str:
    if isinstance(detail, dict):
        for key, value in detail.items():
            text = _first_message(value)
            return text if key == "non_field_errors" else f"{key}: {text}"
    if isinstance(detail, list) and detail:
        return _first_message(detail[0])
    return str(detail)


def api_exception_handler(exc, context):
    if isinstance(exc, ApplicationError):
        details = exc.details if isinstance(exc.details, dict) else {"reasons": exc.details}
        if isinstance(exc, TransitionRefused):
            details = {**details, "state": exc.state}
        return error_response(exc.status_code, exc.message, code=exc.code, details=details)
    if isinstance(exc, RequestDataTooBig):
        return error_response(413, "The request is too large.")
    if isinstance(exc, Http404):
        return error_response(404, "Not found.")
    if isinstance(exc, DjangoPermissionDenied):
        return error_response(403, "You may not do this.")
    response = exception_handler(exc, context)
    if response is None:
        return None  # a real bug: let Django report it as a 500
    if isinstance(exc, exceptions.ValidationError):
        details = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        return error_response(400, _first_message(exc.detail), details=details)
    if isinstance(exc, exceptions.Throttled):
        message = f"Too many requests. Try again in {exc.wait:.0f} seconds." if exc.wait else "Too many requests."
        return error_response(429, message, headers={"Retry-After": response.get("Retry-After", "60")})
    headers = {k: v for k, v in response.items() if k in ("WWW-Authenticate", "Allow", "Retry-After")}
    status_code = response.status_code
    if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        status_code = status.HTTP_401_UNAUTHORIZED
    return error_response(status_code, _first_message(exc.detail), headers=headers)
