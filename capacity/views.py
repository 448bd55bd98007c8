"""The capacity planner's pages: the scenario form and saved scenarios, one scenario's progress
and results, downloads, and scenarios side by side. Live administrators only (accounts.rules);
everyone else finds no such pages."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_safe

from accounts import rules
from caisi_portal import clock
from caisi_portal.errors import ApplicationError
from caisi_portal.web import add_service_error, refuse_if_not_permitted

from . import charts, selectors, services
from .forms import ScenarioForm, initial_from
from .models import Scenario

MAX_COMPARED = 4
MSG_COMPARE = f"Choose from 2 to {MAX_COMPARED} finished scenarios to compare."
TABLES = {"headcounts": services.headcount_rows, "weeks": services.week_rows}


def _planner(request):
    if not rules.may_plan_capacity(request.user):
        raise Http404("No such page.")


def _scenarios(request):
    return Scenario.objects.visible_to(request.user).select_related("created_by")


def _list_page(request, form, *, status=200):
    return render(
        request,
        "capacity/list.html",
        {"form": form, "scenarios": _scenarios(request)[:50], "max_compared": MAX_COMPARED},
        status=status,
    )


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def scenario_list(request):
    """Saved scenarios, and the form for a new one (filled in from the last 12 months)."""
    _planner(request)
    if request.method != "POST":
        fit = selectors.history_fit(clock.now())
        form = ScenarioForm(initial=initial_from(fit, name=f"Scenario of {clock.now():%Y-%m-%d %H:%M}"))
        form.fit = fit
        return _list_page(request, form)
    form = ScenarioForm(request.POST)
    if form.is_valid():
        try:
            scenario = services.scenario_create(
                actor=request.user, name=form.cleaned_data["name"], inputs=form.inputs()
            )
        except ApplicationError as exc:
            refuse_if_not_permitted(exc)
            add_service_error(form, exc)
        else:
            return redirect("capacity:detail", pk=scenario.pk)
    # Bad input: the form again with each field's reason, and a 400 for scripts and tests.
    return _list_page(request, form, status=400)


def _scenario(request, pk) -> Scenario:
    _planner(request)
    return get_object_or_404(_scenarios(request), pk=pk)


@login_required
@require_safe
def scenario_detail(request, pk):
    """A scenario's progress (htmx asks again every second until it is done), then its results."""
    scenario = _scenario(request, pk)
    if request.headers.get("HX-Request"):
        response = render(request, "capacity/_progress.html", {"scenario": scenario})
        if scenario.status == Scenario.Status.DONE:
            # Done while the page watched: htmx reloads the page, which draws the charts.
            response["HX-Refresh"] = "true"
        return response
    return render(request, "capacity/detail.html", {"scenario": scenario, **charts.scenario_charts(scenario)})


@login_required
@require_safe
def scenario_table(request, pk, table):
    scenario = _scenario(request, pk)
    if table not in TABLES or scenario.status != Scenario.Status.DONE:
        raise Http404("No such download.")
    response = HttpResponse(services.rows_csv(TABLES[table](scenario)), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="capacity-{scenario.pk}-{table}.csv"'
    return response


@login_required
@require_safe
def scenario_json(request, pk):
    scenario = _scenario(request, pk)
    response = JsonResponse(services.scenario_document(scenario), json_dumps_params={"indent": 1})
    response["Content-Disposition"] = f'attachment; filename="capacity-{scenario.pk}.json"'
    return response


@login_required
@require_safe
def compare(request):
    """Finished scenarios side by side: what each asked and what it answered."""
    _planner(request)
    try:
        ids = sorted({int(i) for i in request.GET.getlist("ids")})
    except ValueError:
        ids = []
    chosen = list(_scenarios(request).filter(pk__in=ids, status=Scenario.Status.DONE)) if ids else []
    if not 2 <= len(chosen) <= MAX_COMPARED or len(chosen) != len(ids):
        return render(request, "capacity/compare.html", {"error": MSG_COMPARE}, status=400)
    return render(request, "capacity/compare.html", charts.comparison(chosen))
