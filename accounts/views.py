from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from api import services as api_services
from api.models import ApiToken
from caisi_portal.errors import ApplicationError

from . import services
from .models import CalendarFeedToken


@login_required
@require_http_methods(["GET", "POST"])
def profile(request):
    new_calendar_url = new_api_key = None
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "token_issue":
            try:
                _, new_api_key = api_services.api_token_issue(user=request.user, name=request.POST.get("name", ""))
            except ApplicationError as exc:
                messages.error(request, exc.message)
            else:
                messages.success(request, "Your new API token is below. Copy it now: it will not be shown again.")
        elif action == "token_revoke":
            token_id = request.POST.get("token", "")
            # Only this user's own tokens can match; anything else revokes nothing.
            api_services.api_token_revoke(
                user=request.user, token_id=int(token_id) if token_id.isdecimal() and len(token_id) < 18 else 0
            )
            messages.success(request, "The token no longer works.")
            return redirect("profile")
        elif action == "calendar_issue":
            token = services.calendar_token_issue(user=request.user)
            # Shown once: only its hash is kept.
            new_calendar_url = request.build_absolute_uri(reverse("dashboard:calendar", args=[token]))
            messages.success(request, "Your new calendar link is below. Copy it now: it will not be shown again.")
        elif action == "calendar_revoke":
            services.calendar_token_revoke(user=request.user)
            messages.success(request, "Your calendar link no longer works.")
            return redirect("profile")
    return render(
        request,
        "accounts/profile.html",
        {
            "calendar": CalendarFeedToken.objects.filter(user=request.user).first(),
            "new_calendar_url": new_calendar_url,
            "new_api_key": new_api_key,
            "api_tokens": ApiToken.objects.filter(user=request.user, revoked_at__isnull=True),
        },
    )
