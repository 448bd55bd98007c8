"""Holds back office accounts until their second factor is verified in this session."""

from urllib.parse import urlencode

from django.shortcuts import redirect
from django.urls import reverse

from caisi_portal.web import json_error

from . import rules
from .two_factor import confirmed_device, second_factor_required

# Pages a person must reach before the code is entered, and pages with no session at all.
EXEMPT_URL_NAMES = {
    "login",
    "logout",
    "two_factor_setup",
    "two_factor_verify",
    "healthz",
    "register:page",
    "register:json",
    "dashboard:calendar",
    "partners:demo_receiver",
    "api-schema",
    "api-docs",
}


class _BeforeTheView:
    """A middleware that only decides, per resolved view, whether the view may run."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)


class PlaySurface(_BeforeTheView):
    """Closed by default: an exercise player reaches only the URLs the policy lists.

    It runs for every resolved view (the API and the Django admin included), so a URL added
    later is closed to players until someone adds it to `rules.PLAY_SURFACE` on purpose.
    """

    def process_view(self, request, view_func, view_args, view_kwargs):
        match = request.resolver_match
        if rules.may_reach(request.user, match.view_name if match else None):
            return None
        if request.path.startswith("/api/"):
            return json_error(404, "not_found", rules.MSG_OFF_SURFACE)
        from django.shortcuts import render

        return render(request, "404.html", {"reason": rules.MSG_OFF_SURFACE}, status=404)


class RequireSecondFactor(_BeforeTheView):
    """After django_otp's OTPMiddleware: `request.user.is_verified()` is known here."""

    def process_view(self, request, view_func, view_args, view_kwargs):
        match = request.resolver_match
        if match is None or match.view_name in EXEMPT_URL_NAMES:
            return None
        user = request.user
        # API tokens are made on a verified session; token requests carry no session user.
        if not user.is_authenticated or user.is_verified() or not second_factor_required(user):
            return None
        if request.path.startswith("/api/"):
            return json_error(
                403,
                "second_factor_required",
                "Enter your authenticator code on the portal first, or use an API token.",
            )
        target = "two_factor_verify" if confirmed_device(user) else "two_factor_setup"
        return redirect(f"{reverse(target)}?{urlencode({'next': request.get_full_path()})}")


class UserTimeZone:
    """Dates and times on pages are shown in the person's own time zone (stored as UTC)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        import zoneinfo

        from django.utils import timezone

        user = getattr(request, "user", None)
        name = getattr(user, "time_zone", "") if user is not None and user.is_authenticated else ""
        try:
            timezone.activate(zoneinfo.ZoneInfo(name)) if name else timezone.deactivate()
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            timezone.deactivate()
        return self.get_response(request)


class SessionIdleTimeout:
    """A signed-in session ends after SESSION_IDLE_HOURS without a request.

    The last request's time is kept in the session, rewritten at most once a minute so a
    busy page does not write the session on every request. Wall time on purpose: an
    exercise's simulated clock must not age a player's session.
    """

    KEY = "caisi_last_seen"
    WRITE_EVERY = 60

    @classmethod
    def on_sign_in(cls, sender, request, user, **kwargs):
        import time

        if request is not None and hasattr(request, "session"):
            request.session[cls.KEY] = time.time()

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        import time

        from django.conf import settings
        from django.contrib import messages
        from django.contrib.auth import logout

        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and hasattr(request, "session"):
            now = time.time()
            last = request.session.get(self.KEY)
            if isinstance(last, (int, float)) and now - last > settings.SESSION_IDLE_HOURS * 3600:
                logout(request)
                messages.info(request, "You were signed out after a long time without activity. Sign in again.")
            elif not isinstance(last, (int, float)) or now - last > self.WRITE_EVERY:
                request.session[self.KEY] = now
        return self.get_response(request)
