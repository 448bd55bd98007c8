"""Pages for submissions and agreements. Thin: parse, call a service, render."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Prefetch
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from accounts import rules
from caisi_portal import clock
from caisi_portal.errors import ApplicationError
from caisi_portal.web import add_service_error, refuse_if_not_permitted
from partners import services as partner_services
from reviews import evidence
from reviews.forms import AssignmentForm, FindingForm, PlanVersionsForm, ProposeClearForm, ProposeFlagForm, ResultForm
from reviews.selectors import assignment_suggestions, two_person_gap

from . import selectors, services, worklist
from .forms import (
    AcceptForm,
    ArtifactForm,
    LiftForm,
    OrderForm,
    PublicationForm,
    PublicationWithdrawForm,
    SubmissionForm,
    TransitionForm,
    transition_form_class,
)
from .models import OPEN_REVIEW_STATES, AccessRemovalOrder, Agreement, Artifact, ModelSubmission
from .states import state_phrase


def _visible_submission(request, pk) -> ModelSubmission:
    # Out of scope is "not found": nobody learns that another lab's submission exists.
    return get_object_or_404(ModelSubmission.objects.visible_to(request.user).select_related("organization"), pk=pk)


@login_required
@require_safe
def home(request):
    return render(
        request,
        "submissions/home.html",
        {
            "waiting": worklist.waiting_on(request.user),
            "agreement_notice": selectors.agreement_notice(request.user),
            "sections": selectors.home_sections(request.user),
            "counts": selectors.state_counts(request.user) if rules.is_administrator(request.user) else None,
            "may_create": rules.may_create_submission(request.user),
            **selectors.exercise_home(request.user),
        },
    )


@login_required
@require_safe
def submission_list(request):
    """One of the person's home sections in full, searchable by model name, 50 to a page."""
    sections = selectors.submission_sections(request.user)
    key = request.GET.get("section") or next(iter(sections), "")
    if key not in sections:
        raise Http404
    # NUL can never match a name, and PostgreSQL refuses it in a query: drop it.
    query = (request.GET.get("q") or "").replace("\x00", "").strip()[:100]
    items = sections[key]["items"]
    if query:
        items = items.filter(model_name__icontains=query)
    page = Paginator(selectors.ordered({**sections[key], "items": items}).select_related("review_clock"), 50).get_page(
        request.GET.get("page")
    )
    page.object_list = selectors.with_clocks(page.object_list)
    return render(request, "submissions/list.html", {"section": sections[key], "key": key, "q": query, "page": page})


def _warn_early_open_weights(request, submission):
    warning = selectors.early_open_weights_warning(submission)
    if warning:
        messages.warning(request, warning)


@login_required
@require_http_methods(["GET", "POST"])
def submission_create(request):
    if not rules.may_create_submission(request.user):
        raise Http404
    form = SubmissionForm(request.POST or None, organization=request.user.organization)
    if request.method == "POST" and form.is_valid():
        try:
            submission = services.submission_create_draft(actor=request.user, **form.cleaned_data)
        except ApplicationError as exc:
            add_service_error(form, exc)
        else:
            messages.success(request, "Draft saved. Upload a model card, then submit it for review.")
            _warn_early_open_weights(request, submission)
            return redirect(submission)
    status = 400 if request.method == "POST" else 200  # a refused form is a client error, said in words
    return render(
        request,
        "submissions/form.html",
        {"form": form, "title": "New submission", "agreement_notice": selectors.agreement_notice(request.user)},
        status=status,
    )


@login_required
@require_http_methods(["GET", "POST"])
def submission_edit(request, pk):
    submission = _visible_submission(request, pk)
    if not rules.may_edit_draft(request.user, submission):
        messages.error(request, "Only a draft can be edited, by its developer's staff.")
        return redirect(submission)
    form = SubmissionForm(request.POST or None, instance=submission)
    if request.method == "POST" and form.is_valid():
        try:
            services.submission_update_draft(submission=submission, actor=request.user, **form.cleaned_data)
        except ApplicationError as exc:
            add_service_error(form, exc)
        else:
            messages.success(request, "Draft saved.")
            _warn_early_open_weights(request, submission)
            return redirect(submission)
    return render(
        request,
        "submissions/form.html",
        {"form": form, "title": f"Edit {submission}", "submission": submission},
        status=400 if request.method == "POST" else 200,
    )


@login_required
@require_safe
def submission_detail(request, pk):
    return submission_page(request, _visible_submission(request, pk))


def submission_page(request, submission, *, status=200, **bound_forms):
    """The submission page; `bound_forms` put a form back with its errors where it was."""
    user = request.user
    checklists = services.action_checklists(submission, user)
    step = worklist.next_step_shown_to(user, submission)
    context = {
        "submission": submission,
        # Orders have their own page (a hold is no transition): their buttons are in the orders section.
        "transitions": [t for t in services.available_transitions(submission, user) if t.name not in ORDER_TRANSITIONS],
        "blocked": services.blocked_transitions(submission, user, checklists),
        # The task lists worth showing: an action with something to check before it.
        "checklists": [c for c in checklists if c["items"]],
        "next_step": step,
        "next_step_is_yours": step is not None and step.is_for(user),
        "may_edit": rules.may_edit_draft(user, submission),
        "artifact_form": ArtifactForm() if rules.may_upload_artifact(user, submission) else None,
        "assignment_form": AssignmentForm(submission=submission, auto_id="assign-%s")
        if rules.may_assign_reviewers(user, submission)
        else None,
        # Who would fit, ranked with the reasons, and who is left out and why (reviews.selectors).
        "suggestions": assignment_suggestions(submission, submission.exercise_id)
        if rules.may_assign_reviewers(user, submission)
        else None,
        "may_end_assignments": rules.may_end_assignments(user, submission),
        # Several forms share this page: each gets its own element ids (labels stay unambiguous).
        "result_form": (
            ResultForm(submission=submission, user=user, auto_id="result-%s")
            if rules.may_record_evaluation(user, submission)
            else None
        ),
        "plan_form": (
            PlanVersionsForm(submission=submission, user=user, auto_id="plan-%s")
            if rules.may_plan_evaluation(user, submission)
            else None
        ),
        "finding_form": (
            FindingForm(submission=submission, user=user, auto_id="finding-%s")
            if rules.may_record_finding(user, submission)
            else None
        ),
        "propose_form": ProposeFlagForm(auto_id="propose-%s")
        if rules.may_propose_determination(user, submission)
        else None,
        "may_publish": rules.may_publish(user, submission) and submission.state in services.PUBLISHABLE_STATES,
        **selectors.submission_detail_context(submission, user),
    }
    if context["office_view"]:
        # Assignments ended or handed over, with their notes; and whether the people on the review
        # can still meet the two-person rule (said before anyone tries to issue).
        context["handovers"] = submission.handovers.select_related("reviewer", "handed_to", "ended_by")
        context["two_person_gap"] = two_person_gap(submission) if submission.state in OPEN_REVIEW_STATES else None
    may_propose = rules.may_propose_determination(user, submission)
    concerns = evidence.concerns(submission) if context["office_view"] and submission.state == "evaluation" else []
    context["concerns"] = concerns
    context["propose_clear_form"] = (
        ProposeClearForm(concerns=concerns, auto_id="propose-clear-%s") if may_propose and concerns else None
    )
    proposal = context.get("proposal")
    if proposal and not proposal.issued_at:
        context["may_concur"] = rules.may_concur(user, proposal)
        # An assigned reviewer who may not concur is told why (the proposer is told to wait).
        is_proposer = proposal.decided_by_id == user.pk
        context["concur_refusal"] = (
            "" if context["may_concur"] or is_proposer else rules.concurrence_refusal(user, proposal)
        )
        context["may_concur_now"] = [
            a.reviewer
            for a in submission.assignments.select_related("reviewer")
            if rules.may_concur(a.reviewer, proposal)
        ]
        context["proposal_digest"] = proposal.digest()
        if proposal.outcome == "cleared":
            # Each concern with its justification, when this reader is cleared for its evidence.
            shown = evidence.justifications_shown(proposal, user, concerns)
            given = proposal.justifications or {}
            context["proposal_concerns"] = [
                (c, shown.get(c.key, ""), c.key in given and c.key not in shown) for c in concerns
            ]
        else:
            context["proposal_concerns"] = []
    if context["may_record_publication"]:
        context["publication_form"] = PublicationForm(auto_id="publication-%s")
    if context.get("advisory_findings") is not None:
        from reviews.forms import AdvisoryForm

        context["advisory_form"] = AdvisoryForm(findings=context["advisory_findings"], auto_id="advisory-%s")
    context.update({key: form for key, form in bound_forms.items() if context.get(key) is not None})
    return render(request, "submissions/detail.html", context, status=status)


ORDER_TRANSITIONS = ("remove_access", "reinstate_access")


def _lead_myself(request, submission):
    """The lead reviewer who accepted takes the lead, as they asked on the accept page."""
    from reviews import services as review_services
    from reviews.models import Assignment

    try:
        review_services.assignment_create(
            submission=submission, reviewer=request.user, role=Assignment.Role.LEAD, actor=request.user
        )
    except ApplicationError as exc:
        messages.warning(request, f"You were not made the lead: {exc.message}")
    else:
        messages.info(request, "You lead this review: assign its reviewers next.")


def _after_action(request, submission):
    """Back to the submission, or home when the action took it out of this person's sight."""
    if ModelSubmission.objects.visible_to(request.user).filter(pk=submission.pk).exists():
        return redirect(submission)
    messages.info(
        request,
        f"{submission} has left your queues: only the people assigned to it follow it from here.",
    )
    return redirect("home")


ANNOUNCING = {"clear": "cleared", "flag": "flagged"}  # transitions whose outcome partners are told


def announcement_seal(submission, name, data: dict) -> str:
    """A signature over what the person checked before issuing (the secret key makes it
    unforgeable by the browser): the determination's texts as they will be sent."""
    from django.core import signing

    issuing = services.concurred_proposal(submission, name)
    if issuing is not None:
        texts = [issuing.partner_summary, issuing.release_conditions, issuing.rationale]
    else:
        texts = [data.get(k, "") for k in ("partner_summary", "release_conditions", "rationale")]
    return signing.Signer(salt="caisi-announcement").signature(
        "|".join([str(submission.pk), name, submission.state, *[(t or "").strip() for t in texts]])
    )


@login_required
@require_http_methods(["GET", "POST"])
def submission_action(request, pk, name):
    """One transition: its form on GET, the service call on POST.

    A determination partners are told about (clear, flag) takes two steps: the first POST
    shows exactly what each partner will receive; the second (`confirmed`) issues it.
    """
    submission = _visible_submission(request, pk)
    if name not in services.all_transition_names():
        raise Http404
    issuing = services.concurred_proposal(submission, name)
    form_class = transition_form_class(name) if issuing is None else TransitionForm
    extra = {}
    if form_class is AcceptForm:
        extra = {
            "lead_myself": rules.may_lead_on_accept(request.user, submission),
            "rereview_window": selectors.rereview_window_days(submission),
        }
    form = form_class(request.POST or None, initial={"expected_state": submission.state}, **extra)
    blockers = services.transition_blockers(submission, name, request.user)
    preview = None
    status = 200
    if request.method == "POST" and form.is_valid():
        data = form.transition_data()
        if issuing is not None:
            summary, conditions = issuing.partner_summary, issuing.release_conditions
        else:
            summary, conditions = data.get("partner_summary", ""), data.get("release_conditions", "")
        # The confirmation is bound to the text that was checked: a signed seal of it. Any
        # other text (or none checked yet) is shown for checking first.
        seal = announcement_seal(submission, name, data)
        if name in ANNOUNCING and not blockers and request.POST.get("confirmed") != seal:
            if request.POST.get("confirmed"):
                messages.warning(request, "The text changed after it was checked: check what will be sent again.")
            preview = partner_services.announcement_preview(
                submission, outcome=ANNOUNCING[name], partner_summary=summary, release_conditions=conditions
            )
            preview["seal"] = seal
        else:
            try:
                services.submission_transition(
                    submission=submission,
                    name=name,
                    actor=request.user,
                    comment=form.cleaned_data.get("comment", ""),
                    expected_state=form.cleaned_data["expected_state"],
                    data=data,
                )
            except ApplicationError as exc:
                add_service_error(form, exc)
                status = exc.status_code
            else:
                messages.success(request, services.transition_done_message(submission, name))
                if form.cleaned_data.get("lead_myself"):
                    _lead_myself(request, submission)
                return _after_action(request, submission)
    elif request.method == "POST":
        status = 400
    return render(
        request,
        "submissions/action.html",
        {
            "submission": submission,
            "form": form,
            "name": name,
            "label": services.transition_label(name),
            "blockers": blockers,
            "issuing": issuing,
            "preview": preview,
            **selectors.clock_summary(submission, request.user),
            **(selectors.action_context(submission, name, request.user) if not blockers else {}),
        },
        status=status,
    )


@login_required
@require_http_methods(["GET", "POST"])
def order_record(request, pk):
    """Record a government order: on a deployed model access is removed; before release the
    order holds it. The page says what will happen, and to whom, before it is recorded."""
    submission = _visible_submission(request, pk)
    if not rules.may_record_access_removal(submission, request.user):
        raise PermissionDenied(services.MSG_ORDERS)
    form = OrderForm(request.POST or None, submission=submission, initial={"expected_state": submission.state})
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            order = services.access_order_record(
                submission=submission,
                actor=request.user,
                data=form.order_data(),
                deployed=form.cleaned_data.get("deployed", False),
                expected_state=form.cleaned_data["expected_state"],
            )
        except ApplicationError as exc:
            add_service_error(form, exc)
            status = exc.status_code
        else:
            if order.kind == AccessRemovalOrder.Kind.HOLD:
                messages.success(request, "Order recorded: the release is held until the order is lifted.")
            else:
                messages.success(request, services.transition_done_message(submission, "remove_access"))
            return redirect(submission)
    elif request.method == "POST":
        status = 400
    blockers = []
    if services.access_order_in_force(submission) is not None or not rules.may_record_access_order(
        request.user, submission
    ):
        blockers = [
            "An order is in force on this model: lift it before recording another."
            if services.access_order_in_force(submission)
            else services.MSG_ORDER_NOT_HERE.format(state=state_phrase(submission.state))
        ]
    removal_only = submission.state == "released"
    return render(
        request,
        "submissions/order_form.html",
        {
            "submission": submission,
            "form": form,
            "blockers": blockers,
            "removal": selectors.order_consequences(submission, removal=True),
            "hold": None if removal_only else selectors.order_consequences(submission, removal=False),
            "removal_possible": submission.state in ("released", "cleared", "window_elapsed"),
        },
        status=status,
    )


@login_required
@require_http_methods(["GET", "POST"])
def order_lift(request, pk, order_pk):
    """Lift an order (reinstatement): back to the state it found the model in."""
    submission = _visible_submission(request, pk)
    order = get_object_or_404(
        AccessRemovalOrder.objects.select_related("submission"), pk=order_pk, submission=submission
    )
    if not rules.may_record_access_removal(submission, request.user):
        raise PermissionDenied(services.MSG_ORDERS)
    form = LiftForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            services.access_order_lift(order=order, actor=request.user, reason=form.cleaned_data["reason"])
        except ApplicationError as exc:
            add_service_error(form, exc)
            status = exc.status_code
        else:
            messages.success(request, f"Order {order.reference} lifted. " + selectors.lift_consequences(order)[-1])
            return redirect(submission)
    elif request.method == "POST":
        status = 400
    return render(
        request,
        "submissions/order_lift.html",
        {
            "submission": submission,
            "order": order,
            "form": form,
            "consequences": selectors.lift_consequences(order) if order.in_force else [],
        },
        status=status,
    )


@login_required
@require_POST
def publication_record(request, pk):
    submission = _visible_submission(request, pk)
    if not rules.may_record_weights_publication(request.user, submission):
        raise PermissionDenied(services.MSG_PUBLICATIONS)
    form = PublicationForm(request.POST, auto_id="publication-%s")
    if form.is_valid():
        try:
            services.weights_publication_record(submission=submission, actor=request.user, **form.cleaned_data)
        except ApplicationError as exc:
            add_service_error(form, exc)
            return submission_page(request, submission, status=exc.status_code, publication_form=form)
        messages.success(request, "Publication recorded: partners and the register see it with the model's orders.")
        return redirect(submission)
    return submission_page(request, submission, status=400, publication_form=form)


@login_required
@require_http_methods(["GET", "POST"])
def publication_withdraw(request, pk, publication_pk):
    """Withdraw a mistaken publication record: the page says where it is no longer shown first."""
    submission = _visible_submission(request, pk)
    publication = get_object_or_404(submission.weights_publications.all(), pk=publication_pk)
    refusal = rules.weights_withdrawal_refusal(
        request.user, submission, order_in_force=services.access_order_in_force(submission) is not None
    )
    if refusal:
        raise PermissionDenied(refusal)
    form = PublicationWithdrawForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            services.weights_publication_withdraw(
                publication=publication, actor=request.user, reason=form.cleaned_data["reason"]
            )
        except ApplicationError as exc:
            add_service_error(form, exc)
            status = exc.status_code
        else:
            messages.success(request, "Record withdrawn: the register and later notices no longer list it.")
            return redirect(f"{submission.get_absolute_url()}#publications")
    elif request.method == "POST":
        status = 400
    return render(
        request,
        "submissions/publication_withdraw.html",
        {"submission": submission, "publication": publication, "form": form},
        status=status,
    )


@login_required
@require_POST
def submission_publish(request, pk):
    submission = _visible_submission(request, pk)
    try:
        services.submission_set_published(
            submission=submission, actor=request.user, published=request.POST.get("published") == "yes"
        )
    except ApplicationError as exc:
        refuse_if_not_permitted(exc)
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            "Listed in the public register." if submission.published_at else "Removed from the public register.",
        )
    return redirect(submission)


@login_required
@require_POST
def artifact_upload(request, pk):
    submission = _visible_submission(request, pk)
    form = ArtifactForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            services.artifact_upload(
                submission=submission,
                actor=request.user,
                kind=form.cleaned_data["kind"],
                uploaded=form.cleaned_data["file"],
            )
        except ApplicationError as exc:
            add_service_error(form, exc)
            status = exc.status_code
        else:
            messages.success(request, "Artifact uploaded.")
            if request.headers.get("HX-Request"):
                # Uploaded in place (with a progress bar): htmx then loads the submission page.
                response = HttpResponse(status=204)
                response["HX-Redirect"] = submission.get_absolute_url()
                return response
            return redirect(submission)
    else:
        status = 400
    if request.headers.get("HX-Request"):
        # The form again, with its messages, where it was (htmx swaps 422 answers).
        return render(
            request, "submissions/_artifact_upload_form.html", {"submission": submission, "form": form}, status=422
        )
    return render(
        request,
        "submissions/artifact_form.html",
        {"submission": submission, "form": form, **selectors.clock_summary(submission, request.user)},
        status=status,
    )


@login_required
@require_safe
def artifact_download(request, pk, artifact_pk):
    submission = _visible_submission(request, pk)
    if not rules.may_view_artifacts(request.user, submission):
        raise Http404
    artifact = get_object_or_404(Artifact, pk=artifact_pk, submission=submission)
    return FileResponse(
        artifact.file.open("rb"),
        as_attachment=True,
        filename=artifact.original_name,
        content_type=artifact.content_type,
    )


@login_required
@require_safe
def agreement_list(request):
    if not rules.may_view_agreements(request.user):
        raise Http404
    agreements = selectors.agreements_for(request.user)
    rows = [
        {
            "agreement": a,
            "actions": services.agreement_available_actions(a) if rules.may_manage_agreements(request.user, a) else [],
            "negotiating_days": a.negotiating_days(clock.now().date()),
        }
        for a in agreements
    ]
    return render(
        request,
        "submissions/agreements.html",
        {"rows": rows, "may_manage": rules.may_manage_agreements(request.user)},
    )


@login_required
@require_http_methods(["GET", "POST"])
def agreement_change(request, pk):
    """One agreement's page: its history, what a change would do, and the two changes."""
    agreement = get_object_or_404(
        Agreement.objects.visible_to(request.user).prefetch_related(Prefetch("events", to_attr="history")), pk=pk
    )
    if not rules.may_manage_agreements(request.user, agreement):
        raise PermissionDenied(services.MSG_AGREEMENTS_WHO)
    if request.method == "GET":
        open_reviews = services.agreement_open_reviews(agreement).select_related("review_clock")
        return render(
            request,
            "submissions/agreement_change.html",
            {
                "agreement": agreement,
                "actions": [
                    (value, label, services.agreement_change_consequence(agreement, value, open_reviews.count()))
                    for value, label in services.agreement_available_actions(agreement)
                ],
                "open_reviews": open_reviews.count(),
                "open_review_rows": selectors.with_clocks(open_reviews),
                "fates": services.REVIEW_FATES,
                "ending_actions": services.ENDING_ACTIONS,
                "negotiating_days": agreement.negotiating_days(clock.now().date()),
            },
        )
    try:
        if "review_window_days" in request.POST:
            services.agreement_set_window(
                agreement=agreement, actor=request.user, days=request.POST.get("review_window_days") or 0
            )
        else:
            services.agreement_change_status(
                agreement=agreement,
                action=request.POST.get("action", ""),
                actor=request.user,
                note=request.POST.get("note", ""),
                # "review-<id>": continue / withdraw, for each open review (suspend, terminate).
                open_reviews={
                    key.removeprefix("review-"): value
                    for key, value in request.POST.items()
                    if key.startswith("review-") and value
                },
            )
    except (ApplicationError, ValueError) as exc:
        refuse_if_not_permitted(exc)
        messages.error(request, getattr(exc, "message", "The review window must be a whole number of days."))
        return redirect("submissions:agreement_change", pk=agreement.pk)
    messages.success(request, f"{agreement.organization}: agreement updated.")
    return redirect("submissions:agreements")
