"""Administrators' view of the outbox, and the demo partner receiver."""

import json

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import F
from django.http import Http404, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST, require_safe
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from accounts import rules
from accounts.forms import PartnerDigestForm
from caisi_portal.errors import ApplicationError
from caisi_portal.web import redirect_back, refuse_if_not_permitted

from . import services
from .models import Delivery, DemoInboxMessage, TrustedPartner


@login_required
@require_safe
def delivery_list(request):
    if not rules.may_view_deliveries(request.user):
        raise Http404
    status = request.GET.get("status") or ""
    # A played administrator sees the exercise's notifications (recorded, never sent).
    deliveries = rules.scope_deliveries(
        Delivery.objects.select_related("event__submission", "partner__organization"), request.user
    ).order_by("-next_attempt_at")
    if status in Delivery.Status.values:
        deliveries = deliveries.filter(status=status)
    page = Paginator(deliveries, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "partners/deliveries.html",
        {
            "page": page,
            "status": status,
            "statuses": Delivery.Status.choices,
            "may_redeliver": rules.may_manage_partners(request.user),
        },
    )


@login_required
@require_POST
def delivery_redeliver(request, pk):
    delivery = get_object_or_404(
        rules.scope_deliveries(Delivery.objects.select_related("event__submission"), request.user), pk=pk
    )
    try:
        services.delivery_redeliver(delivery=delivery, actor=request.user)
    except ApplicationError as exc:
        refuse_if_not_permitted(exc)
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Queued again with the same id {delivery.webhook_id}.")
    return redirect_back(request, "partners:deliveries")


@csrf_exempt
@require_POST
def demo_receiver(request, pk):
    """Plays a partner's webhook endpoint in the local demo. Off unless DEBUG."""
    if not settings.DEMO_WEBHOOK_RECEIVER:
        raise Http404
    partner = get_object_or_404(TrustedPartner, pk=pk)
    body = request.body.decode("utf-8", errors="replace")
    try:
        Webhook(partner.webhook_secret).verify(body, dict(request.headers))
        valid = True
    except WebhookVerificationError:
        valid = False
    if not valid:
        # An unsigned or forged body is refused and not kept: only the office writes here.
        return HttpResponseBadRequest("The signature does not verify.")
    try:
        payload = json.loads(body)
    except ValueError:
        return HttpResponseBadRequest("Body is not JSON.")
    webhook_id = request.headers.get("webhook-id", "")[:100]
    message, created = DemoInboxMessage.objects.get_or_create(
        partner=partner,
        webhook_id=webhook_id,
        defaults={
            "event_type": str(payload.get("type", ""))[:60],
            "body": payload,
            "signature_valid": True,
            "first_received_at": timezone.now(),
        },
    )
    if not created:
        # A retry of a message already handled: acknowledge it, act on it no further.
        DemoInboxMessage.objects.filter(pk=message.pk).update(times_received=F("times_received") + 1)
    return HttpResponse(status=204)


@login_required
@require_safe
def demo_inbox(request):
    if not settings.DEMO_WEBHOOK_RECEIVER:
        raise Http404
    if not rules.may_view_demo_inbox(request.user):
        raise Http404
    inbox = rules.scope_demo_inbox(DemoInboxMessage.objects.select_related("partner__organization"), request.user)
    return render(
        request,
        "partners/demo_inbox.html",
        {
            "page": Paginator(inbox, 50).get_page(request.GET.get("page")),
            "own": rules.sees_only_own_demo_inbox(request.user),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def partner_digest(request):
    """A partner's staff choose how their organization's emails arrive: at once or in a digest."""
    from . import digests

    partner = rules.partner_settings_of(request.user)
    if partner is None:
        raise Http404
    if request.method == "POST":
        form = PartnerDigestForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                services.partner_digest_set(
                    partner=partner,
                    actor=request.user,
                    cadence=data["cadence"],
                    digest_hour=data["digest_hour"],
                    digest_weekday=data["digest_weekday"],
                    digest_time_zone=data["digest_time_zone"],
                )
            except ApplicationError as exc:
                refuse_if_not_permitted(exc)
                messages.error(request, exc.message)
            else:
                messages.success(request, "Saved.")
                return redirect("partners:digest")
    else:
        form = PartnerDigestForm(
            initial={
                "cadence": partner.email_cadence,
                "digest_hour": partner.digest_hour,
                "digest_weekday": partner.digest_weekday,
                "digest_time_zone": partner.digest_time_zone,
            }
        )
    return render(
        request,
        "partners/digest.html",
        {
            "partner": partner,
            "form": form,
            "words": digests.describe(digests.partner_schedule(partner), partner.digest_time_zone),
            "addresses": partner.email_list(),
            "has_webhook": bool(partner.webhook_url),
        },
        status=400 if form.errors else 200,
    )


# --- a partner's own Integration page ----------------------------------------------------------


def _own_partner(request):
    """The partner whose Integration page this is: the person's own organization's, else 404."""
    partner = rules.partner_settings_of(request.user)
    if partner is None:
        raise Http404
    return partner


@login_required
@require_safe
def partner_integration(request):
    """A partner's staff see their organization's deliveries, test, pause and resume their
    webhooks, and rotate their secret."""
    from django.db.models import Prefetch

    from . import self_service
    from .models import DeliveryAttempt

    partner = _own_partner(request)
    status = request.GET.get("status") or ""
    deliveries = rules.scope_partner_deliveries(
        Delivery.objects.select_related("event__submission", "partner"), request.user, partner
    ).prefetch_related(Prefetch("attempt_log", queryset=DeliveryAttempt.objects.order_by("started_at", "pk")))
    if status in Delivery.Status.values:
        deliveries = deliveries.filter(status=status)
    page = Paginator(deliveries.order_by("-next_attempt_at", "pk"), 25).get_page(request.GET.get("page"))
    now = timezone.now()
    last_test = (
        Delivery.objects.filter(partner=partner, kind=Delivery.Kind.TEST)
        .prefetch_related("attempt_log")
        .order_by("-next_attempt_at")
        .first()
    )
    return render(
        request,
        "partners/integration.html",
        {
            "partner": partner,
            "paused_by": partner.paused_by if partner.is_paused else None,
            "waiting": self_service.backlog(partner).count() if partner.is_paused else 0,
            "previous_secrets": partner.previous_secrets_signing(now),
            "page": page,
            "status": status,
            "statuses": Delivery.Status.choices,
            "redeliverable": (Delivery.Status.DEAD, Delivery.Status.DELIVERED),
            "last_test": last_test,
        },
    )


def _act(request, do, success: str | None = None):
    """Run a service for the page's partner; a refusal is shown with its reason."""
    try:
        result = do(_own_partner(request))
    except ApplicationError as exc:
        refuse_if_not_permitted(exc)
        messages.error(request, exc.message)
        return None
    if success:
        messages.success(request, success)
    return result


@login_required
@require_POST
def partner_integration_redeliver(request, pk):
    partner = _own_partner(request)
    delivery = get_object_or_404(
        rules.scope_partner_deliveries(
            Delivery.objects.select_related("event__submission", "partner"), request.user, partner
        ),
        pk=pk,
    )
    done = _act(request, lambda p: services.delivery_redeliver(delivery=delivery, actor=request.user))
    if done is not None:
        later = " Your webhooks are paused: it goes out when you resume them." if partner.is_paused else ""
        messages.success(
            request,
            f"Queued again with the same id {delivery.webhook_id}: "
            f"a receiver that already has it can drop the copy.{later}",
        )
    return redirect_back(request, "partners:integration")


@login_required
@require_POST
def partner_integration_test(request):
    from . import self_service

    done = _act(request, lambda p: self_service.partner_webhook_test(partner=p, actor=request.user))
    if done is not None:
        messages.success(
            request, f"Test webhook {done.webhook_id} sent to {done.address}. Its result shows below in a few seconds."
        )
    return redirect("partners:integration")


@login_required
@require_POST
def partner_integration_pause(request):
    from . import self_service

    _act(
        request,
        lambda p: self_service.partner_pause(partner=p, actor=request.user),
        "Webhooks paused. New notifications are recorded and wait here; none is tried until you resume.",
    )
    return redirect("partners:integration")


@login_required
@require_POST
def partner_integration_resume(request):
    from . import self_service

    waiting = _act(request, lambda p: self_service.partner_resume(partner=p, actor=request.user))
    if waiting is not None:
        from caisi_portal.words import counted

        messages.success(
            request,
            f"Webhooks resumed: {counted(waiting, 'waiting delivery', 'waiting deliveries')} going out, oldest first."
            if waiting
            else "Webhooks resumed: nothing was waiting.",
        )
    return redirect("partners:integration")


@login_required
@require_http_methods(["GET", "POST"])
def partner_integration_rotate(request):
    """First what a rotation does (a confirmation); then the new secret, shown once."""
    import datetime as dt

    partner = _own_partner(request)
    now = timezone.now()  # wall time, as the signatures are
    previous = partner.previous_secrets_signing(now)
    context = {
        "partner": partner,
        "overlap_hours": settings.WEBHOOK_SECRET_OVERLAP_HOURS,
        "old_until": now + dt.timedelta(hours=settings.WEBHOOK_SECRET_OVERLAP_HOURS),
        "previous_secrets": previous,
        "too_many": len(previous) >= services.MAX_PREVIOUS_SECRETS,
    }
    if request.method == "POST":
        secret = _act(request, lambda p: services.partner_secret_rotate(partner=p, actor=request.user))
        if secret is None:
            return redirect("partners:integration")
        response = render(
            request,
            "partners/integration_rotated.html",
            {"partner": partner, "secret": secret, "previous_secrets": partner.previous_secrets_signing(now)},
        )
        # Shown once: never kept by a browser's or a proxy's cache.
        response["Cache-Control"] = "no-store"
        return response
    return render(request, "partners/integration_rotate.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def partner_integration_revoke(request):
    """First which previous secrets stop signing and what that does to the receiver (a
    confirmation); then they stop."""
    partner = _own_partner(request)
    if request.method == "POST":
        revoked = _act(request, lambda p: services.partner_previous_secrets_revoke(partner=p, actor=request.user))
        if revoked is not None:
            from caisi_portal.words import counted

            messages.success(
                request,
                f"{counted(len(revoked), 'previous secret')} revoked. "
                "Only the current secret signs, from the next message on.",
            )
        return redirect("partners:integration")
    return render(
        request,
        "partners/integration_revoke.html",
        {
            "partner": partner,
            "previous_secrets": partner.previous_secrets_signing(timezone.now()),
            "nothing": services.MSG_NO_PREVIOUS_SECRET,
        },
    )
