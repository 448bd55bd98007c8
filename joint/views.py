"""Pages for joint reviews: the office invites, the institute answers and works from its queue,
administrators keep the arrangements. Thin: parse, ask the rule, call a service, render."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from accounts import rules
from caisi_portal.errors import ApplicationError
from caisi_portal.web import add_service_error
from submissions.models import ModelSubmission

from . import selectors, services
from .forms import ArrangementForm, EndArrangementForm, InviteForm, RespondForm
from .models import DataSharingArrangement, JointReviewInvitation


def _invitation(request, pk) -> JointReviewInvitation:
    # Out of scope is "not found": an institute never learns of another's invitations.
    return get_object_or_404(
        JointReviewInvitation.objects.visible_to(request.user).select_related(
            "submission__organization", "institute", "arrangement", "invited_by", "responded_by"
        ),
        pk=pk,
    )


@login_required
@require_safe
def queue(request):
    """An allied institute's reviewer: invitations waiting for an answer and the joint reviews
    their institute takes part in, soonest deadline first; their institute's arrangement."""
    if not rules.is_institute_reviewer(request.user):
        raise Http404
    return render(request, "joint/queue.html", selectors.institute_queue(request.user))


@login_required
@require_http_methods(["GET", "POST"])
def invite(request, pk):
    submission = get_object_or_404(
        ModelSubmission.objects.visible_to(request.user).select_related("organization"), pk=pk
    )
    if not rules.may_invite_institute(request.user, submission):
        raise PermissionDenied(services.MSG_INVITE)
    form = InviteForm(request.POST or None, user=request.user, auto_id="invite-%s")
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                services.invitation_create(actor=request.user, submission=submission, **form.cleaned_data)
            except ApplicationError as exc:
                add_service_error(form, exc)
                status = exc.status_code
            else:
                messages.success(
                    request,
                    f"{form.cleaned_data['institute']} is invited. Its reviewers see the review once one of them "
                    "accepts, within the arrangement's cap.",
                )
                return redirect(submission)
    return render(
        request,
        "joint/invite.html",
        {
            "submission": submission,
            "form": form,
            "invitations": selectors.invitations_of(submission, request.user),
            "arrangements": selectors.arrangements_in_force(request.user),
        },
        status=status,
    )


@login_required
@require_safe
def invitation(request, pk):
    found = _invitation(request, pk)
    return render(
        request,
        "joint/invitation.html",
        {
            "invitation": found,
            "submission": found.submission,
            "may_respond": rules.may_respond_to_invitation(request.user, found),
            "may_withdraw": rules.may_withdraw_invitation(request.user, found),
            "may_open_submission": ModelSubmission.objects.visible_to(request.user)
            .filter(pk=found.submission_id)
            .exists(),
            "form": RespondForm(auto_id="respond-%s"),
        },
    )


@login_required
@require_POST
def respond(request, pk):
    found = _invitation(request, pk)
    if (
        not rules.may_respond_to_invitation(request.user, found)
        and found.status == JointReviewInvitation.Status.PENDING
    ):
        raise PermissionDenied(services.MSG_RESPOND)
    form = RespondForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose to accept or to decline the invitation.")
        return redirect(found)
    accept = form.cleaned_data["answer"] == "accept"
    try:
        services.invitation_respond(actor=request.user, invitation=found, accept=accept)
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect(found)
    if accept:
        messages.success(request, f"Accepted: {found.submission} is in your institute's joint reviews.")
        return redirect(found.submission)
    messages.success(request, "Declined: the office is told by the invitation's status.")
    return redirect("joint:queue")


@login_required
@require_POST
def withdraw(request, pk):
    found = _invitation(request, pk)
    if not rules.may_withdraw_invitation(request.user, found) and found.status in ("pending", "accepted"):
        raise PermissionDenied(services.MSG_WITHDRAW)
    try:
        services.invitation_withdraw(actor=request.user, invitation=found)
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect(found)
    messages.success(request, f"Withdrawn: {found.institute}'s reviewers no longer see this review.")
    return redirect(found.submission)


@login_required
@require_http_methods(["GET", "POST"])
def arrangements(request):
    if not rules.may_manage_arrangements(request.user):
        raise Http404
    form = ArrangementForm(request.POST or None, user=request.user, auto_id="arrangement-%s")
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                services.arrangement_record(actor=request.user, **form.cleaned_data)
            except ApplicationError as exc:
                add_service_error(form, exc)
                status = exc.status_code
            else:
                messages.success(request, "Arrangement recorded: the institute may now be invited to reviews.")
                return redirect("joint:arrangements")
    return render(
        request,
        "joint/arrangements.html",
        {
            "form": form,
            "arrangements": rules.scope_arrangements(DataSharingArrangement.objects.all(), request.user).select_related(
                "institute", "recorded_by", "ended_by"
            ),
            "end_form": EndArrangementForm(auto_id="end-%s"),
        },
        status=status,
    )


@login_required
@require_POST
def arrangement_end(request, pk):
    if not rules.may_manage_arrangements(request.user):
        raise Http404
    found = get_object_or_404(
        rules.scope_arrangements(DataSharingArrangement.objects.select_related("institute"), request.user), pk=pk
    )
    form = EndArrangementForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Say why the arrangement ends (one line).")
        return redirect("joint:arrangements")
    try:
        services.arrangement_end(actor=request.user, arrangement=found, reason=form.cleaned_data["reason"])
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Ended: {found.institute}'s staff no longer see any joint review under it.")
    return redirect("joint:arrangements")
