"""The API's error answers as the schema documents them, shared by every module of views."""

from drf_spectacular.utils import OpenApiResponse

from .serializers import ErrorSerializer

ERRORS = {
    400: OpenApiResponse(ErrorSerializer, description="Bad input: field messages in details."),
    401: OpenApiResponse(ErrorSerializer, description="No valid token or session."),
    403: OpenApiResponse(ErrorSerializer, description="Your role may not do this."),
    404: OpenApiResponse(ErrorSerializer, description="Not found, or not yours to know about."),
    429: OpenApiResponse(ErrorSerializer, description="Throttled: see Retry-After."),
}
CONFLICT = {409: OpenApiResponse(ErrorSerializer, description="Not allowed now; details.state is the current state.")}
TOO_LARGE = {413: OpenApiResponse(ErrorSerializer, description="The file is larger than allowed.")}


def _errors(*codes, extra=None):
    out = {code: ERRORS[code] for code in codes}
    out.update(extra or {})
    return out


# Lists: 400 for a filter value that is not allowed, 404 for a page past the end.
LIST_ERRORS = _errors(400, 401, 404, 429)
ADMIN_LIST_ERRORS = _errors(400, 401, 403, 404, 429)
