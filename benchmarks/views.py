"""The benchmark catalog's pages. Who may see and change what is asked of accounts.rules;
the catalog is the live office's: others find no such pages."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from accounts import rules
from accounts.models import Clearance
from caisi_portal.errors import ApplicationError
from caisi_portal.ids import row_id
from caisi_portal.web import add_service_error, refuse_if_not_permitted

from . import selectors, services, trends
from .forms import AliasesForm, BenchmarkForm, LevelsForm, RetireForm, VersionForm
from .models import BenchmarkVersion, in_level_order

MSG_MANAGE = "Only the office's administrators change the benchmark catalog."


def _catalog_reader(request):
    if not rules.may_view_benchmark_catalog(request.user):
        raise Http404("No such page.")


def _manager(request):
    _catalog_reader(request)
    if not rules.may_manage_benchmarks(request.user):
        raise PermissionDenied(MSG_MANAGE)


@login_required
@require_safe
def catalog(request):
    _catalog_reader(request)
    return render(
        request,
        "benchmarks/catalog.html",
        {
            "title": "Benchmark catalog",
            "domains": selectors.catalog_for(request.user),
            "may_manage": rules.may_manage_benchmarks(request.user),
            "clearance": Clearance(request.user.clearance).label,
        },
    )


def _detail(request, slug, *, forms=None, status=200):
    found = selectors.benchmark_page(request.user, slug)
    if found is None:
        raise Http404("No such benchmark.")
    benchmark, versions, hidden = found
    forms = forms or {}
    may_manage = rules.may_manage_benchmarks(request.user)
    rows = []
    for version in versions:
        thresholds = in_level_order(version.levels.all())
        rows.append(
            {
                "version": version,
                "thresholds": thresholds,
                "may_change": may_manage and version.retired_at is None,
                "levels_form": forms.get(("levels", version.pk))
                or LevelsForm(initial=thresholds, auto_id=f"levels-{version.pk}-%s"),
                "aliases_form": forms.get(("aliases", version.pk))
                or AliasesForm(
                    initial={"metric_aliases": "\n".join(version.metric_aliases)}, auto_id=f"aliases-{version.pk}-%s"
                ),
                "retire_form": forms.get(("retire", version.pk)) or RetireForm(auto_id=f"retire-{version.pk}-%s"),
            }
        )
    # A new version ends the current one's standing: not for someone below its clearance.
    seen = [v.pk for v in versions]
    new_blocked = (
        services.MSG_HIDDEN_CURRENT
        if may_manage and benchmark.versions.filter(is_current=True).exclude(pk__in=seen).exists()
        else ""
    )
    return render(
        request,
        "benchmarks/benchmark.html",
        {
            "title": benchmark.name,
            "benchmark": benchmark,
            "rows": rows,
            "hidden": hidden,
            "may_manage": may_manage and not new_blocked,
            "new_blocked": new_blocked,
        },
        status=status,
    )


@login_required
@require_safe
def benchmark_detail(request, slug):
    _catalog_reader(request)
    return _detail(request, slug)


def _id_param(request, name) -> int | None:
    """An id from the query string; anything that is not one names nothing (not found)."""
    value = request.GET.get(name)
    if value in (None, ""):
        return None
    pk = row_id(value)
    if pk is None:
        raise Http404("No such page.")
    return pk


@login_required
@require_safe
def benchmark_trends(request, slug):
    _catalog_reader(request)
    try:
        found = trends.benchmark_trends(
            request.user,
            slug,
            version_id=_id_param(request, "version"),
            submission_id=_id_param(request, "submission"),
        )
    except trends.NotFound:
        raise Http404("No such benchmark.") from None
    return render(
        request,
        "benchmarks/trends.html",
        {"title": f"Capability trends: {found['benchmark'].name}", **found},
    )


def _form_page(request, form, title, intro, status=200):
    return render(request, "benchmarks/form.html", {"form": form, "title": title, "intro": intro}, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def benchmark_new(request):
    _manager(request)
    form = BenchmarkForm(request.POST or None, user=request.user, auto_id="benchmark-%s")
    intro = (
        "A benchmark measures one domain. Its first version carries the classification, the metric "
        "and the policy lines that decide every result recorded against it."
    )
    if request.method == "POST":
        if form.is_valid():
            try:
                version = services.benchmark_create(actor=request.user, **form.benchmark_data(), **form.version_data())
            except ApplicationError as exc:
                refuse_if_not_permitted(exc)
                add_service_error(form, exc)
            else:
                messages.success(request, f"{version} added to the catalog.")
                return redirect("benchmarks:detail", slug=version.benchmark.slug)
        return _form_page(request, form, "New benchmark", intro, status=400)
    return _form_page(request, form, "New benchmark", intro)


@login_required
@require_http_methods(["GET", "POST"])
def version_new(request, slug):
    _manager(request)
    found = selectors.benchmark_page(request.user, slug)
    if found is None:
        raise Http404("No such benchmark.")
    benchmark = found[0]
    form = VersionForm(request.POST or None, user=request.user, auto_id="version-%s")
    title = f"New version of {benchmark.name}"
    intro = (
        "The new version becomes current: evaluations planned from now on use it. "
        "Earlier versions keep their scores and levels."
    )
    if request.method == "POST":
        if form.is_valid():
            try:
                version = services.benchmark_version_create(
                    actor=request.user, benchmark=benchmark, **form.version_data()
                )
            except ApplicationError as exc:
                refuse_if_not_permitted(exc)
                add_service_error(form, exc)
            else:
                messages.success(request, f"{version} is now current.")
                return redirect("benchmarks:detail", slug=benchmark.slug)
        return _form_page(request, form, title, intro, status=400)
    return _form_page(request, form, title, intro)


def _version(request, pk) -> BenchmarkVersion:
    _manager(request)
    return get_object_or_404(
        rules.scope_benchmark_versions(BenchmarkVersion.objects.select_related("benchmark__domain"), request.user),
        pk=pk,
    )


@login_required
@require_POST
def version_levels(request, pk):
    version = _version(request, pk)
    form = LevelsForm(request.POST, auto_id=f"levels-{version.pk}-%s")
    if form.is_valid():
        try:
            services.benchmark_version_levels_set(
                actor=request.user, version=version, levels=form.levels(), reason=form.cleaned_data["reason"]
            )
        except ApplicationError as exc:
            refuse_if_not_permitted(exc)
            add_service_error(form, exc)
        else:
            messages.success(request, f"Levels of {version} changed.")
            return redirect(reverse("benchmarks:detail", args=[version.benchmark.slug]) + f"#version-{version.pk}")
    return _detail(request, version.benchmark.slug, forms={("levels", version.pk): form}, status=400)


@login_required
@require_POST
def version_aliases(request, pk):
    version = _version(request, pk)
    form = AliasesForm(request.POST, auto_id=f"aliases-{version.pk}-%s")
    if form.is_valid():
        try:
            services.benchmark_version_aliases_set(actor=request.user, version=version, aliases=form.aliases())
        except ApplicationError as exc:
            refuse_if_not_permitted(exc)
            add_service_error(form, exc)
        else:
            messages.success(request, f"Metric aliases of {version} changed.")
            return redirect(reverse("benchmarks:detail", args=[version.benchmark.slug]) + f"#version-{version.pk}")
    return _detail(request, version.benchmark.slug, forms={("aliases", version.pk): form}, status=400)


@login_required
@require_POST
def version_retire(request, pk):
    version = _version(request, pk)
    form = RetireForm(request.POST, auto_id=f"retire-{version.pk}-%s")
    if form.is_valid():
        try:
            services.benchmark_version_retire(actor=request.user, version=version, reason=form.cleaned_data["reason"])
        except ApplicationError as exc:
            refuse_if_not_permitted(exc)
            add_service_error(form, exc)
        else:
            messages.success(request, f"{version} retired.")
            return redirect("benchmarks:detail", slug=version.benchmark.slug)
    return _detail(request, version.benchmark.slug, forms={("retire", version.pk): form}, status=400)
