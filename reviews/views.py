"""Pages for the office's side of a review. Each answers on the submission page."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from accounts import rules
from caisi_portal.errors import ApplicationError
from caisi_portal.web import add_service_error, refuse_if_not_permitted
from submissions.models import ModelSubmission
from submissions.selectors import clock_summary
from submissions.views import submission_page

from . import evidence, services
from .forms import (
    AdvisoryForm,
    AssignmentEndForm,
    AssignmentForm,
    ConflictCheckForm,
    FindingForm,
    PlanVersionsForm,
    ProposeClearForm,
    ProposeFlagForm,
    ResultForm,
)
from .models import Advisory, Determination, Finding
from .selectors import two_person_gap


def _submission(request, pk, may=None, refusal=""):
    """The submission (404 out of scope), and the permission checked before any form is bound:
    someone refused sees a 403 page, never a redrawn form listing the office's people or plan."""
    submission = get_object_or_404(
        ModelSubmission.objects.visible_to(request.user).select_related("organization"), pk=pk
    )
    if may is not None and not may(request.user, submission):
        raise PermissionDenied(refusal)
    return submission


def _handle(request, submission, form, call, success, title, page_form=None):
    """Validate the form, call the service, and either redirect or show the form again.

    Sent in place by htmx (`page_form` names the form on the submission page), a mistake
    answers 422 with the submission page and the form back in its section with its
    messages; htmx swaps just that section. Success redirects either way: htmx follows
    and takes the updated section from the page.
    """
    if form.is_valid():
        try:
            call(form.cleaned_data)
        except ApplicationError as exc:
            add_service_error(form, exc)
            status = exc.status_code
            if page_form and request.headers.get("HX-Request"):
                refuse_if_not_permitted(exc)  # no page to put the form back on for someone refused
        else:
            messages.success(request, success)
            return redirect(submission)
    else:
        status = 400
    if page_form and request.headers.get("HX-Request"):
        return submission_page(request, submission, status=422, **{page_form: form})
    context = {"submission": submission, "form": form, "title": title, **clock_summary(submission, request.user)}
    return render(request, "reviews/form.html", context, status=status)


@login_required
@require_POST
def assign(request, pk):
    submission = _submission(
        request, pk, rules.may_assign_reviewers, "You may not assign reviewers to this submission."
    )
    form = AssignmentForm(request.POST, submission=submission, auto_id="assign-%s")

    def assign_and_warn(data):
        services.assignment_create(
            submission=submission,
            reviewer=data["reviewer"],
            role=data["role"],
            actor=request.user,
            acknowledge_clearance_gap=data.get("acknowledge_clearance_gap", False),
        )
        # Acknowledged before: said again with the success, for the record of what was chosen.
        gap = services.assignment_clearance_gap(submission=submission, reviewer=data["reviewer"])
        if gap:
            messages.warning(request, gap)

    return _handle(
        request,
        submission,
        form,
        assign_and_warn,
        "Reviewer assigned.",
        "Assign a reviewer",
        page_form="assignment_form",
    )


@login_required
@require_POST
def assign_suggested(request, pk):
    """The one click: assign the suggested lead and reviewers shown on the submission page."""
    submission = _submission(
        request, pk, rules.may_assign_reviewers, "You may not assign reviewers to this submission."
    )
    try:
        suggested = [int(v) for v in request.POST.getlist("suggested")]
    except ValueError:
        suggested = []
    try:
        made = services.assignment_suggestions_accept(
            submission=submission,
            actor=request.user,
            expected_state=request.POST.get("expected_state", ""),
            suggested_ids=suggested,
        )
    except ApplicationError as exc:
        refuse_if_not_permitted(exc)
        messages.error(request, exc.message)
    else:
        names = ", ".join(f"{a.reviewer} ({a.get_role_display().lower()})" for a in made)
        messages.success(request, f"Assigned {names}.")
    return redirect(submission)


@login_required
@require_http_methods(["GET", "POST"])
def end_assignment(request, pk, assignment_pk):
    """End a reviewer's assignment or hand it to another reviewer: the page says what that
    does before it is done, with the note the one taking over will read."""
    submission = _submission(request, pk, rules.may_end_assignments, services.MSG_END_WHO)
    assignment = get_object_or_404(
        submission.assignments.select_related("reviewer", "submission__organization", "handover__reviewer"),
        pk=assignment_pk,
    )
    form = AssignmentEndForm(request.POST or None, assignment=assignment, auto_id="end-%s")
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            data = form.cleaned_data
            try:
                services.assignment_end(
                    assignment=assignment,
                    actor=request.user,
                    note=data["note"],
                    hand_to=data["hand_to"],
                    acknowledge_clearance_gap=data.get("acknowledge_clearance_gap", False),
                )
            except ApplicationError as exc:
                refuse_if_not_permitted(exc)
                add_service_error(form, exc)
                status = exc.status_code
            else:
                if data["hand_to"]:
                    done = f"{assignment.reviewer}'s assignment is handed to {data['hand_to']}: both are told"
                    messages.success(request, f"{done}, and {data['hand_to']} reads your note.")
                else:
                    messages.success(request, f"{assignment.reviewer} is no longer on this review: they are told.")
                gap = two_person_gap(submission)
                if gap:
                    messages.warning(request, gap)
                return redirect(submission)
    pending = Determination.objects.filter(
        submission=submission, issued_at__isnull=True, concurred_by=assignment.reviewer
    ).first()
    context = {
        "submission": submission,
        "assignment": assignment,
        "form": form,
        "title": f"End or hand over {assignment.reviewer}'s assignment",
        "withdraws_concurrence": services.proposal_verb(pending) if pending else "",
        **clock_summary(submission, request.user),
    }
    return render(request, "reviews/end_assignment.html", context, status=status)


@login_required
@require_safe
def conflict_check(request):
    """Is this reviewer conflicted with these organizations, and why (accounts.rules decides)."""
    if not rules.may_check_conflicts(request.user):
        raise PermissionDenied("Only those who assign reviewers may check conflicts of interest.")
    form = ConflictCheckForm(request.GET or None, user=request.user, auto_id="conflict-%s")
    answers = None
    if form.is_valid():
        reviewer, organizations = form.cleaned_data["reviewer"], list(form.cleaned_data["organizations"])
        reasons = rules.conflict_reasons([reviewer], organizations)
        answers = [(org, reasons.get((reviewer.pk, org.pk), [])) for org in organizations]
    status = 400 if form.is_bound and not form.is_valid() else 200
    return render(
        request,
        "reviews/conflict_check.html",
        {"form": form, "answers": answers, "title": "Conflict check"},
        status=status,
    )


@login_required
@require_POST
def record_result(request, pk):
    submission = _submission(
        request, pk, rules.may_record_evaluation, "Only reviewers assigned to this submission record results."
    )
    form = ResultForm(request.POST, submission=submission, user=request.user, auto_id="result-%s")
    return _handle(
        request,
        submission,
        form,
        lambda d: services.evaluation_result_record(submission=submission, actor=request.user, **d),
        "Result recorded.",
        "Record an evaluation result",
        page_form="result_form",
    )


@login_required
@require_POST
def plan_versions(request, pk):
    """The lead chooses the benchmark versions that measure one planned domain."""
    submission = _submission(
        request, pk, rules.may_plan_evaluation, "Only the lead reviewer changes the evaluation plan, while evaluating."
    )
    form = PlanVersionsForm(request.POST, submission=submission, user=request.user, auto_id="plan-%s")
    return _handle(
        request,
        submission,
        form,
        lambda d: services.evaluation_plan_versions_set(
            submission=submission, actor=request.user, domain=d["domain"], versions=[v.pk for v in d["versions"]]
        ),
        "Plan changed.",
        "Change the benchmarks planned",
        page_form="plan_form",
    )


@login_required
@require_POST
def record_finding(request, pk):
    submission = _submission(
        request, pk, rules.may_record_finding, "Only reviewers assigned to this submission record findings."
    )
    form = FindingForm(request.POST, request.FILES, submission=submission, user=request.user, auto_id="finding-%s")
    return _handle(
        request,
        submission,
        form,
        lambda d: services.finding_record(submission=submission, actor=request.user, **d),
        "Finding recorded.",
        "Record a finding",
        page_form="finding_form",
    )


@login_required
@require_POST
def resolve_finding(request, pk, finding_pk):
    """Resolve a finding carried from the earlier version, with the reason (the review's lead).
    A finding the person is not cleared for does not exist for them."""
    submission = _submission(request, pk)
    finding = get_object_or_404(
        Finding.objects.visible_to(request.user).select_related("submission", "domain", "carried_from__submission"),
        pk=finding_pk,
        submission=submission,
    )
    if not rules.may_resolve_finding(request.user, finding):
        raise PermissionDenied(services.MSG_RESOLVE_WHO)
    try:
        services.finding_resolve(finding=finding, actor=request.user, reason=request.POST.get("reason", ""))
    except ApplicationError as exc:
        refuse_if_not_permitted(exc)
        messages.error(request, exc.message)
    else:
        messages.success(request, "Finding resolved: the reason is kept with it and the timeline records it.")
    return redirect(f"{submission.get_absolute_url()}#carried-{finding.pk}")


@login_required
@require_POST
def propose_flag(request, pk):
    submission = _submission(
        request, pk, rules.may_propose_determination, "Only the lead reviewer proposes a determination."
    )
    form = ProposeFlagForm(request.POST, auto_id="propose-%s")
    return _handle(
        request,
        submission,
        form,
        lambda d: services.determination_propose_flag(submission=submission, actor=request.user, **d),
        "Flag proposed. A second reviewer must concur before you can issue it.",
        "Propose to flag",
        page_form="propose_form",
    )


@login_required
@require_POST
def propose_clear(request, pk):
    submission = _submission(
        request, pk, rules.may_propose_determination, "Only the lead reviewer proposes a determination."
    )
    form = ProposeClearForm(request.POST, concerns=evidence.concerns(submission), auto_id="propose-clear-%s")
    return _handle(
        request,
        submission,
        form,
        lambda d: services.determination_propose_clear(
            submission=submission, actor=request.user, **form.service_kwargs()
        ),
        "Clearance proposed. A second reviewer must concur before you can clear.",
        "Propose to clear against the evidence",
        page_form="propose_clear_form",
    )


@login_required
@require_POST
def concur(request, pk):
    submission = _submission(request, pk)
    determination = get_object_or_404(Determination, submission=submission, issued_at__isnull=True)
    try:
        # The text the reviewer read on the page: a proposal changed since is not what they agree to.
        services.determination_concur(
            determination=determination, actor=request.user, seen_digest=request.POST.get("proposal_digest") or ""
        )
    except ApplicationError as exc:
        refuse_if_not_permitted(exc)
        messages.error(request, exc.message)
    else:
        verb = {"flagged": "flag", "cleared": "clear"}.get(determination.outcome, "decide")
        messages.success(request, f"You concurred with the proposal to {verb}.")
    return redirect(submission)


@login_required
@require_POST
def remind(request, pk, assignment_pk):
    """The Remind button: email a reviewer which planned results are missing and by when."""
    from submissions import reminders

    submission = _submission(request, pk)
    assignment = get_object_or_404(submission.assignments.select_related("reviewer", "submission"), pk=assignment_pk)
    if not rules.may_remind_reviewer(request.user, assignment):
        raise PermissionDenied(reminders.MSG_NOT_PERMITTED)
    try:
        sent = reminders.reviewer_remind(assignment=assignment, actor=request.user)
    except ApplicationError as exc:
        refuse_if_not_permitted(exc)
        messages.error(request, exc.message)
    else:
        messages.success(request, reminders.remind_outcome(sent))
    return redirect(submission)


@login_required
@require_safe
def evidence_download(request, pk, finding_pk):
    submission = _submission(request, pk)
    finding = get_object_or_404(Finding.objects.visible_to(request.user), pk=finding_pk, submission=submission)
    if not finding.evidence:
        raise Http404
    return FileResponse(finding.evidence.open("rb"), as_attachment=True, filename=finding.evidence_name)


@login_required
@require_POST
def advisory_propose(request, pk):
    """The lead proposes an advisory on a released model; a second reviewer's concurrence issues it."""
    submission = _submission(
        request, pk, rules.may_propose_advisory, "Only the review's lead proposes an advisory, on a released model."
    )
    findings = list(Finding.objects.visible_to(request.user).filter(submission=submission))
    form = AdvisoryForm(request.POST, findings=findings, auto_id="advisory-%s")
    return _handle(
        request,
        submission,
        form,
        lambda d: services.advisory_propose(
            submission=submission, actor=request.user, text=d["text"], findings=list(d["findings"])
        ),
        "Advisory proposed. A second reviewer's concurrence issues it to the developer and partners.",
        "Propose an advisory",
        page_form="advisory_form",
    )


@login_required
@require_POST
def advisory_concur(request, pk, advisory_pk):
    submission = _submission(request, pk)
    advisory = get_object_or_404(Advisory.objects.select_related("submission"), pk=advisory_pk, submission=submission)
    try:
        services.advisory_concur(
            advisory=advisory, actor=request.user, seen_digest=request.POST.get("advisory_digest") or ""
        )
    except ApplicationError as exc:
        refuse_if_not_permitted(exc)
        messages.error(request, exc.message)
    else:
        messages.success(request, "Advisory issued: the developer and the subscribed partners are told.")
    return redirect(submission)
