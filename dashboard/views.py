"""The administrators' dashboard, breach list, exports, and everyone's deadline calendar."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.html import escape
from django.views.decorators.http import require_POST, require_safe

from accounts import rules
from accounts.services import calendar_token_user
from caisi_portal import clock
from caisi_portal.errors import ApplicationError
from caisi_portal.web import redirect_back, refuse_if_not_permitted
from reviews.models import Determination
from submissions.models import OPEN_REVIEW_STATES, ModelSubmission, ReviewClock, SlaBreach
from submissions.review_clock import breach_acknowledge, humanize

from . import exports, selectors
from .filters import BreachFilter, DeterminationFilter, SubmissionFilter


def _administrator(request):
    # Others are told nothing exists here, as elsewhere.
    if not rules.is_administrator(request.user):
        raise Http404


@login_required
@require_safe
def dashboard(request):
    _administrator(request)
    now = clock.now()
    trends = selectors.trends(now)
    workload = trends["workload"]
    return render(
        request,
        "dashboard/dashboard.html",
        {
            "headline": selectors.headline(now),
            "at_risk": [(c, humanize(c.deadline_at - now)) for c in selectors.clocks_at_risk(now)],
            "paused": [(c, humanize(d) if d else "") for c, d in selectors.paused_clocks(now)],
            "agreements": selectors.agreement_status(now),
            "workload": workload,
            "workload_chart": {
                "labels": [r["name"] for r in workload],
                "series": [
                    {"name": "Open reviews", "values": [r["open"] for r in workload]},
                    {"name": "At risk", "values": [r["at_risk"] for r in workload]},
                ],
            },
            "charts": trends,
        },
    )


def _breaches(request):
    qs = selectors.live(SlaBreach.objects.all()).order_by("-detected_at", "-pk")
    return BreachFilter(request.GET or None, queryset=qs, request=request)


@login_required
@require_safe
def breach_list(request):
    _administrator(request)
    breaches = _breaches(request)
    rows = breaches.qs.select_related("submission__organization", "acknowledged_by")
    page = Paginator(rows, 50).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "dashboard/breaches.html", {"filter": breaches, "page": page, "query": query.urlencode()})


@login_required
@require_POST
def breach_ack(request, pk):
    _administrator(request)
    breach = get_object_or_404(SlaBreach.objects.select_related("submission"), pk=pk)
    try:
        breach_acknowledge(breach=breach, actor=request.user, note=request.POST.get("note", ""))
    except ApplicationError as exc:
        refuse_if_not_permitted(exc)
        if request.headers.get("HX-Request"):
            return HttpResponse(
                f'<tr><td colspan="5" role="alert" class="error">{escape(exc.message)}</td></tr>', status=422
            )
        messages.error(request, exc.message)
    else:
        if request.headers.get("HX-Request"):
            # In place: the row itself, now acknowledged, without reloading the list.
            breach.refresh_from_db()
            return render(request, "dashboard/_breach_row.html", {"b": breach})
        messages.success(request, f"Breach on {breach.submission} acknowledged.")
    return redirect_back(request, "dashboard:breaches")


@login_required
@require_safe
def export_breaches(request):
    _administrator(request)
    return exports.csv_response("sla-breaches.csv", exports.BREACHES_HEADER, exports.breach_rows(_breaches(request).qs))


@login_required
@require_safe
def export_submissions(request):
    _administrator(request)
    qs = ModelSubmission.objects.visible_to(request.user).filter(is_exercise=False).order_by("pk")
    rows = SubmissionFilter(request.GET or None, queryset=qs, request=request).qs
    return exports.csv_response("submissions.csv", exports.SUBMISSIONS_HEADER, exports.submissions_rows(rows))


@login_required
@require_safe
def export_determinations(request):
    _administrator(request)
    qs = selectors.live(Determination.objects.filter(issued_at__isnull=False)).order_by("issued_at")
    rows = DeterminationFilter(request.GET or None, queryset=qs, request=request).qs
    return exports.csv_response("determinations.csv", exports.DETERMINATIONS_HEADER, exports.determination_rows(rows))


@login_required
@require_safe
def reports(request):
    """The export page: each export with its own filters."""
    _administrator(request)
    return render(
        request,
        "dashboard/reports.html",
        {
            "exports": [
                ("Submissions", SubmissionFilter(request=request), reverse("dashboard:export_submissions")),
                ("Determinations", DeterminationFilter(request=request), reverse("dashboard:export_determinations")),
                ("SLA breaches", BreachFilter(request=request), reverse("dashboard:export_breaches")),
            ]
        },
    )


@require_safe
def calendar_feed(request, token):
    """The .ics feed behind a private link: open review deadlines this person may see."""
    user = calendar_token_user(token)
    if user is None:
        raise Http404
    clocks = (
        ReviewClock.objects.filter(
            submission__in=ModelSubmission.objects.visible_to(user).filter(state__in=OPEN_REVIEW_STATES),
            status__in=(ReviewClock.Status.RUNNING, ReviewClock.Status.PAUSED),
        )
        .select_related("submission__organization")
        .order_by("deadline_at")
    )
    body = exports.deadlines_calendar(
        clocks, name=f"CAISI review deadlines ({user.get_username()})", base_url=settings.PORTAL_BASE_URL
    )
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'inline; filename="review-deadlines.ics"'
    response["Cache-Control"] = "private, max-age=300"
    return response
