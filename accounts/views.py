from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_safe

from api import services as api_services
from api.models import ApiToken
from caisi_portal import clock
from caisi_portal.errors import ApplicationError
from caisi_portal.web import add_service_error, redirect_back, refuse_if_not_permitted
from reviews.forms import LeaveForm
from reviews.models import ReviewerLeave
from reviews.services import reviewer_leave_cancel, reviewer_leave_record

from . import rules, services, two_factor
from .forms import NotificationPreferenceForm, TimeZoneForm, TokenForm
from .models import CalendarFeedToken, NotificationPreference


@login_required
@require_http_methods(["GET", "POST"])
def profile(request):
    new_calendar_url = new_api_key = notification_form = leave_form = None
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "token_issue":
            try:
                _, new_api_key = api_services.api_token_issue(
                    user=request.user,
                    name=request.POST.get("name", ""),
                    read_only=request.POST.get("read_only") == "on",
                )
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
            try:
                token = services.calendar_token_issue(user=request.user)
            except ApplicationError as exc:
                messages.error(request, exc.message)
            else:
                # Shown once: only its hash is kept.
                new_calendar_url = request.build_absolute_uri(reverse("dashboard:calendar", args=[token]))
                messages.success(request, "Your new calendar link is below. Copy it now: it will not be shown again.")
        elif action == "time_zone":
            form = TimeZoneForm(request.POST)
            if form.is_valid():
                services.time_zone_set(user=request.user, name=form.cleaned_data["time_zone"])
                messages.success(request, "Dates and times are now shown in your time zone.")
            else:
                messages.error(request, "Choose a time zone from the list.")
            return redirect("profile")
        elif action == "notifications":
            form = NotificationPreferenceForm(request.POST)
            if form.is_valid():
                services.notification_preference_set(user=request.user, **form.cleaned_data)
                messages.success(request, "Saved: " + _as_sentences(_schedule_words(request.user)))
                return redirect("profile")
            notification_form = form

        elif action == "expertise":
            # Declared expertise ranks assignment suggestions (reviews.selectors).
            from reviews.forms import ExpertiseForm
            from reviews.services import reviewer_expertise_declare

            form = ExpertiseForm(request.POST)
            if form.is_valid():
                try:
                    reviewer_expertise_declare(reviewer=request.user, domains=form.cleaned_data["domains"])
                except ApplicationError as exc:
                    messages.error(request, exc.message)
                else:
                    messages.success(request, "Your declared expertise is saved.")
            else:
                messages.error(request, "Choose domains from the list.")
            return redirect("profile")
        elif action == "leave_add":
            leave_form = _leave_record(request)
            if leave_form is None:
                return redirect("profile")
        elif action == "leave_cancel":
            try:
                reviewer_leave_cancel(reviewer=request.user, leave_id=request.POST.get("leave", ""))
            except ApplicationError as exc:
                refuse_if_not_permitted(exc)
                messages.error(request, exc.message)
            else:
                messages.success(request, "That leave is taken back: suggestions count you in again for that time.")
            return redirect("profile")
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
            "second_factor": two_factor.confirmed_device(request.user),
            "time_zone_form": TimeZoneForm(initial={"time_zone": request.user.time_zone}),
            "notification_form": notification_form or _notification_form(request.user),
            "notification_words": _schedule_words(request.user),
            "partner_digest": rules.may_set_partner_digest(request.user),
            "held_link": rules.may_view_held_notifications(request.user),
            "second_factor_required": two_factor.second_factor_required(request.user),
            "expertise_form": _expertise_form(request.user),
            **_leave_context(request.user, leave_form),
        },
        status=400 if notification_form is not None or leave_form is not None else 200,
    )


def _leave_record(request):
    """Record leave from the profile's form: None once saved, else the form with its errors."""
    form = LeaveForm(request.POST, auto_id="leave-%s")
    if form.is_valid():
        try:
            leave = reviewer_leave_record(reviewer=request.user, **form.cleaned_data)
        except ApplicationError as exc:
            refuse_if_not_permitted(exc)
            add_service_error(form, exc)
        else:
            messages.success(
                request, f"Leave recorded, {leave.words}: reviews in that time will not suggest you for them."
            )
            return None
    return form


def _leave_context(user, bound_form) -> dict:
    if not rules.may_declare_leave(user):
        return {"leave_form": None, "leave": []}
    return {
        "leave_form": bound_form or LeaveForm(auto_id="leave-%s"),
        # Leave still to come or under way: what changes a suggestion.
        "leave": ReviewerLeave.objects.filter(reviewer=user, ends_on__gte=clock.now().date()),
    }


@login_required
@require_safe
def held_notifications(request):
    """What waits for this person's digest: their own held emails, when each goes out, and how
    to have them sooner."""
    from partners.selectors import held_for

    if not rules.may_view_held_notifications(request.user):
        raise Http404
    page = Paginator(held_for(request.user), 50).get_page(request.GET.get("page"))
    return render(
        request,
        "accounts/held.html",
        {"page": page, "notification_words": _schedule_words(request.user), "preference": _preference(request.user)},
    )


def _preference(user):
    return NotificationPreference.objects.filter(user=user).first()


def _notification_form(user):
    preference = _preference(user)
    if preference is None:
        return NotificationPreferenceForm(initial={"cadence": "immediate", "digest_hour": 8, "digest_weekday": 0})
    return NotificationPreferenceForm(
        initial={
            "cadence": preference.cadence,
            "digest_hour": preference.digest_hour,
            "digest_weekday": preference.digest_weekday,
            "quiet_start": preference.quiet_start,
            "quiet_end": preference.quiet_end,
        }
    )


def _as_sentences(lines: list[str]) -> str:
    """The schedule's lines, each a sentence ending in one period (some end in one already)."""
    return " ".join(line if line.endswith(".") else f"{line}." for line in lines)


def _schedule_words(user) -> list[str]:
    from partners import digests

    return digests.describe(digests.person_schedule(_preference(user), user.time_zone), user.time_zone)


def _expertise_form(user):
    from reviews.forms import ExpertiseForm
    from reviews.models import ReviewerExpertise

    if not rules.may_declare_expertise(user):
        return None
    held = ReviewerExpertise.objects.filter(reviewer=user).values_list("domain_id", flat=True)
    return ExpertiseForm(initial={"domains": list(held)}, auto_id="expertise-%s")


@login_required
@require_http_methods(["GET", "POST"])
def two_factor_setup(request):
    """Scan the QR code, type the first code: the app is confirmed and this session verified."""
    if two_factor.confirmed_device(request.user) and not request.user.is_verified():
        # Replacing an app needs the old one's code first.
        return redirect_back(request, "two_factor_verify")
    device = two_factor.totp_device_for_setup(user=request.user)
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            two_factor.totp_confirm(request=request, device=device, token=form.cleaned_data["token"])
        except ApplicationError as exc:
            add_service_error(form, exc)
        else:
            messages.success(request, "Your authenticator app is set up. Sign-ins will ask for its code.")
            return redirect_back(request, "profile")
    return render(
        request,
        "accounts/two_factor_setup.html",
        {"form": form, "qr": two_factor.qr_svg(device), "key": two_factor.setup_key(device)},
        status=400 if form.errors else 200,
    )


@login_required
@require_http_methods(["GET", "POST"])
def two_factor_verify(request):
    if not two_factor.confirmed_device(request.user):
        return redirect("two_factor_setup")
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            two_factor.totp_verify(request=request, token=form.cleaned_data["token"])
        except ApplicationError as exc:
            add_service_error(form, exc)
        else:
            return redirect_back(request, "home")
    return render(request, "accounts/two_factor_verify.html", {"form": form}, status=400 if form.errors else 200)
