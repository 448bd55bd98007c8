from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from . import services
from .models import CalendarFeedToken


@login_required
@require_http_methods(["GET", "POST"])
def profile(request):
    new_calendar_url = None
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "calendar_issue":
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
        },
    )
