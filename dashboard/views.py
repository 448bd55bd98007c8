"""The administrators' dashboard, breach list, exports, and everyone's deadline calendar."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.html import escape
from django.views.decorators.http import require_POST, require_safe

from accounts import rules
from accounts.services import calendar_token_user
from caisi_portal import clock
from caisi_portal.errors import ApplicationError
from caisi_portal.web import redirect_back, refuse_if_not_permitted
from submissions.models import OPEN_REVIEW_STATES, ModelSubmission, ReviewClock, SlaBreach
from submissions.review_clock import breach_acknowledge, humanize

from . import exports, selectors, services
from .models import ExportJob


def _administrator(request):
    # Others are told nothing exists here, as elsewhere. A played administrator sees the
    # dashboard and breaches of their exercise (the selectors read their world only).
    if not rules.may_view_dashboard(request.user):
        raise Http404


def _exporter(request):
    # Exports are the live office's records: never a player's.
    if not rules.may_export(request.user):
        raise Http404


@login_required
@require_safe
def dashboard(request):
    _administrator(request)
    now, world = clock.now(), rules.world_of(request.user)
    trends = selectors.trends(now, world)
    workload = trends["workload"]
    return render(
        request,
        "dashboard/dashboard.html",
        {
            "headline": selectors.headline(now, world),
            "at_risk": [(c, humanize(c.deadline_at - now)) for c in selectors.clocks_at_risk(now, world=world)],
            "paused": [(c, humanize(d) if d else "") for c, d in selectors.paused_clocks(now, world=world)],
            "agreements": selectors.agreement_status(now, world),
            "may_export": rules.may_export(request.user),
            "workload": workload,
            "workload_chart": {
                "labels": [r["name"] for r in workload],
                "series": [
                    {"name": "Open reviews", "tone": "neutral", "values": [r["open"] for r in workload]},
                    {
                        "name": "At risk (7 days or less left)",
                        "tone": "warn",
                        "values": [r["at_risk"] for r in workload],
                    },
                ],
                "counts": True,
            },
            "charts": trends,
        },
    )


def _breaches(request):
    # The list and its export are the same rows.
    return exports.kind("breaches").filtered(request.GET, request.user)


@login_required
@require_safe
def breach_list(request):
    _administrator(request)
    breaches = _breaches(request)
    rows = breaches.qs.select_related("submission__organization", "acknowledged_by")
    page = Paginator(rows, 50).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    filter_values = [(name, request.GET[name]) for name in breaches.form.fields if request.GET.get(name)]
    return render(
        request,
        "dashboard/breaches.html",
        {"filter": breaches, "page": page, "query": query.urlencode(), "filter_values": filter_values},
    )


@login_required
@require_POST
def breach_ack(request, pk):
    _administrator(request)
    breach = get_object_or_404(
        rules.scope_breaches(SlaBreach.objects.select_related("submission"), request.user), pk=pk
    )
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


def _direct_csv(request, name):
    """The CSV streamed straight back: for scripts and bookmarks (people get a job with progress)."""
    _exporter(request)
    spec = exports.kind(name)
    rows = spec.filtered(request.GET, request.user).qs
    return exports.csv_response(spec.filename, spec.csv(rows))


@login_required
@require_safe
def export_breaches(request):
    return _direct_csv(request, "breaches")


@login_required
@require_safe
def export_submissions(request):
    return _direct_csv(request, "submissions")


@login_required
@require_safe
def export_determinations(request):
    return _direct_csv(request, "determinations")


def _reports_page(request, *, status=200, refused=None):
    forms = []
    for kind, title in ExportJob.Kind.choices:
        direct = reverse(f"dashboard:export_{kind}")
        bound = refused and refused[0] == kind
        chosen = exports.kind(kind).filtered(request.POST if bound else None, request.user)
        chosen.form.auto_id = f"{kind}-%s"  # three forms on one page: ids stay unique
        if bound:
            chosen.is_valid()
        forms.append((kind, title, chosen.form, direct, refused[1] if bound else ""))
    recent = ExportJob.objects.filter(requested_by=request.user)[:10]
    page_error = refused[1] if refused and refused[0] not in ExportJob.Kind.values else ""
    return render(
        request, "dashboard/reports.html", {"exports": forms, "recent": recent, "page_error": page_error}, status=status
    )


@login_required
@require_safe
def reports(request):
    """The export page: each export with its own filters, and the person's recent exports."""
    _exporter(request)
    return _reports_page(request)


@login_required
@require_POST
def export_start(request):
    _exporter(request)
    kind = request.POST.get("export", "")  # not "kind": the breach filters have a field of that name
    try:
        job = services.export_start(actor=request.user, kind=kind, params=request.POST)
    except ApplicationError as exc:
        refuse_if_not_permitted(exc)
        return _reports_page(request, status=400, refused=(kind, exc.message))
    return redirect("dashboard:export", pk=job.pk)


def _own_export(request, pk):
    _exporter(request)
    return get_object_or_404(ExportJob, pk=pk, requested_by=request.user)


@login_required
@require_safe
def export_detail(request, pk):
    """The export's progress; htmx asks again every second until it is ready."""
    job = _own_export(request, pk)
    template = "dashboard/_export_progress.html" if request.headers.get("HX-Request") else "dashboard/export.html"
    return render(request, template, {"job": job})


@login_required
@require_safe
def export_download(request, pk):
    job = _own_export(request, pk)
    if job.status != ExportJob.Status.DONE or not job.file:
        raise Http404
    return FileResponse(job.file.open("rb"), as_attachment=True, filename=job.filename, content_type="text/csv")


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
