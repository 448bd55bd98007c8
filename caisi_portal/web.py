"""Small helpers the pages share for turning service errors into form messages."""

from django.core.exceptions import PermissionDenied

from caisi_portal.errors import ApplicationError, NotPermitted


def add_service_error(form, exc: ApplicationError) -> None:
    """Put a service's refusal on the form: on the field it names, or on the whole form."""
    placed = False
    if isinstance(exc.details, dict):
        for field, messages in exc.details.items():
            if field in form.fields:
                for message in messages if isinstance(messages, list) else [messages]:
                    form.add_error(field, str(message))
                placed = True
    if not placed or (exc.message and not any(exc.message in errs for errs in form.errors.values())):
        form.add_error(None, exc.message)


def redirect_back(request, default: str):
    """Redirect to the form's `next` page, but only within this site (no open redirect)."""
    from django.shortcuts import redirect
    from django.utils.http import url_has_allowed_host_and_scheme

    target = request.POST.get("next") or ""
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return redirect(target)
    return redirect(default)


def refuse_if_not_permitted(exc: ApplicationError) -> None:
    """A role refusal is a 403 page, not a message on a redirect that looks like success."""
    if isinstance(exc, NotPermitted):
        raise PermissionDenied(exc.message) from exc


class RefuseOversizedBodies:
    """Refuse a request body larger than the largest artifact before a byte of it is read.

    Django reads uploads into temporary files as they stream in, so a 10 GB upload would
    fill the disk before any view could refuse it. The declared Content-Length decides
    here, at once; a body sent without one (chunked) is refused too, since its size is
    unknown until it has been read.
    """

    SLACK = 1024 * 1024  # multipart headers and the form's other fields

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        from django.conf import settings

        limit = settings.ARTIFACT_MAX_BYTES + self.SLACK
        declared = request.META.get("CONTENT_LENGTH") or ""
        chunked = "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower()
        try:
            size = int(declared) if declared else 0
        except ValueError:
            size = -1
        if size < 0 or size > limit or (chunked and not declared):
            return _too_large(request, limit, length_required=chunked and not declared)
        return self.get_response(request)


def json_error(status: int, code: str, message: str):
    """The API's one error shape, for answers given before a view (middleware, fallbacks)."""
    from django.http import JsonResponse

    return JsonResponse({"error": {"code": code, "message": message, "details": {}}}, status=status)


def _too_large(request, limit, *, length_required=False):
    from django.http import HttpResponse

    if length_required:
        status, message = 411, "Send the body with a Content-Length header."
    else:
        status, message = 413, f"The request is larger than the portal accepts ({limit // (1024 * 1024)} MB at most)."
    if request.path.startswith("/api/"):
        code = "length_required" if status == 411 else "too_large"
        return json_error(status, code, message)
    response = HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")
    response["Connection"] = "close"  # do not wait to read what is left of the body
    return response


def client_ip(request) -> str | None:
    """The client's address as the outermost trusted proxy saw it.

    Behind TRUSTED_PROXY_COUNT proxies, each appends the address it received from to
    X-Forwarded-For, so the client is that many entries from the right. Entries further
    left were written by the client itself and are not believed. With no proxy configured,
    REMOTE_ADDR is the client. Sign-in lockouts (django-axes) and API throttles key on this,
    so one address behind the proxy is not everyone's address.
    """
    from django.conf import settings

    count = settings.TRUSTED_PROXY_COUNT
    remote = request.META.get("REMOTE_ADDR")
    if count <= 0:
        return remote
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
    if len(forwarded) < count:
        return remote
    return forwarded[-count]
