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
