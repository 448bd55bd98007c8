"""A developer's integration managers manage their organization's webhook endpoints.

Anyone else (another lab's staff, a developer without the permission, the office, partners,
exercise players) is answered "not found": the pages do not exist for them.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from accounts import rules
from caisi_portal.errors import ApplicationError
from caisi_portal.web import add_service_error, refuse_if_not_permitted

from . import integrations
from .integration_forms import EndpointForm
from .models import MAX_ENDPOINTS_PER_ORGANIZATION, WebhookEndpoint


def _allowed(request) -> None:
    if not rules.may_manage_integrations(request.user):
        raise Http404


def _endpoint(request, pk) -> WebhookEndpoint:
    _allowed(request)
    return get_object_or_404(
        rules.scope_webhook_endpoints(WebhookEndpoint.objects.select_related("organization"), request.user), pk=pk
    )


@login_required
@require_safe
def endpoint_list(request):
    _allowed(request)
    endpoints = list(integrations.endpoints_of(request.user))
    return render(
        request,
        "partners/integrations/list.html",
        {
            "endpoints": endpoints,
            "room": len(endpoints) < MAX_ENDPOINTS_PER_ORGANIZATION,
            "most": MAX_ENDPOINTS_PER_ORGANIZATION,
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def endpoint_create(request):
    _allowed(request)
    form = EndpointForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            endpoint = integrations.endpoint_create(
                actor=request.user, url=data["url"], event_types=data["event_types"], description=data["description"]
            )
        except ApplicationError as exc:
            refuse_if_not_permitted(exc)
            add_service_error(form, exc)
        else:
            # Rendered, not redirected: the secret is shown on this answer only, never stored elsewhere.
            return render(request, "partners/integrations/created.html", {"endpoint": endpoint})
    return render(request, "partners/integrations/form.html", {"form": form}, status=400 if form.errors else 200)


@login_required
@require_safe
def endpoint_detail(request, pk):
    endpoint = _endpoint(request, pk)
    return render(
        request,
        "partners/integrations/detail.html",
        {"endpoint": endpoint, "deliveries": list(integrations.endpoint_recent_deliveries(endpoint))},
    )


@login_required
@require_POST
def endpoint_active(request, pk):
    endpoint = _endpoint(request, pk)
    active = request.POST.get("active") == "on"
    try:
        integrations.endpoint_set_active(endpoint=endpoint, actor=request.user, active=active)
    except ApplicationError as exc:
        refuse_if_not_permitted(exc)
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            "Enabled: new events are sent to it."
            if active
            else "Disabled: nothing is sent to it, including what was still waiting, until you enable it.",
        )
    return redirect("partners:endpoint_detail", endpoint.pk)


@login_required
@require_POST
def endpoint_test(request, pk):
    endpoint = _endpoint(request, pk)
    try:
        delivery = integrations.endpoint_test_send(endpoint=endpoint, actor=request.user)
    except ApplicationError as exc:
        refuse_if_not_permitted(exc)
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Test event queued with webhook-id {delivery.webhook_id}: its result shows below.")
    return redirect("partners:endpoint_detail", endpoint.pk)


@login_required
@require_http_methods(["GET", "POST"])
def endpoint_delete(request, pk):
    """GET says what deleting stops; POST deletes."""
    endpoint = _endpoint(request, pk)
    if request.method == "POST":
        try:
            integrations.endpoint_delete(endpoint=endpoint, actor=request.user)
        except ApplicationError as exc:
            refuse_if_not_permitted(exc)
            messages.error(request, exc.message)
            return redirect("partners:endpoint_detail", endpoint.pk)
        messages.success(request, f"Deleted the endpoint {endpoint.url}: nothing more is sent to it.")
        return redirect("partners:endpoints")
    waiting = endpoint.deliveries.filter(status="pending").count()
    return render(request, "partners/integrations/delete.html", {"endpoint": endpoint, "waiting": waiting})
