"""The submission's reviewers in the API beyond assigning them: ending an assignment or handing
it over, and the assignment suggestions. The same policy, services and selectors as the Reviewers
card of the submission page, so both refuse and suggest alike."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.response import Response

from accounts import rules
from caisi_portal.errors import NotPermitted
from caisi_portal.ids import row_id
from reviews import services as review_services
from reviews.selectors import assignment_suggestions, two_person_gap

from .responses import CONFLICT, _errors
from .serializers import (
    ACKNOWLEDGE_HELP,
    AssignmentSerializer,
    HandoverSerializer,
    InCallersWorld,
    _assignable_reviewers,
)

TWO_PERSON_GAP_HELP = (
    "Why the people now on the review cannot meet the two-person rule (no second reviewer cleared for every "
    "finding); null when they can."
)
MSG_SUGGESTIONS_WHO = "Suggestions are for those who may assign reviewers to this review."


class AssignmentEndSerializer(serializers.Serializer):
    hand_to = InCallersWorld(
        slug_field="username",
        scope=_assignable_reviewers,
        required=False,
        allow_null=True,
        help_text="The reviewer who takes over the role (a lead reviewer, for the lead). Leave it out to remove "
        "a reviewer with no one taking over; the lead is always handed over, never removed.",
    )
    note = serializers.CharField(
        max_length=5000,
        help_text="The handover note: what the one taking over needs to know (with no one taking over, why the "
        "assignment ends). They read it with their assignment; the review's timeline keeps it. Nothing classified.",
    )
    acknowledge_clearance_gap = serializers.BooleanField(default=False, help_text=ACKNOWLEDGE_HELP)


class AssignmentEndedSerializer(serializers.Serializer):
    handover = HandoverSerializer()
    assignment = AssignmentSerializer(
        allow_null=True, help_text="The assignment of the one who took over; null: no one."
    )
    two_person_gap = serializers.CharField(allow_null=True, help_text=TWO_PERSON_GAP_HELP)


class CandidateSerializer(serializers.Serializer):
    reviewer = serializers.CharField(source="reviewer.username")
    name = serializers.CharField(source="reviewer")
    lead_reviewer = serializers.BooleanField(source="is_lead", help_text="Holds the lead reviewer role.")
    clearance = serializers.CharField(source="clearance_label")
    suggested_as = serializers.SerializerMethodField(
        help_text='"lead" or "member" when suggested (never someone on leave in the review window); null: not.'
    )
    on_leave = serializers.ListField(
        child=serializers.CharField(),
        source="leave",
        help_text='Their leave during the review window, as "12–20 Dec": such a reviewer is ranked last.',
    )
    open_reviews = serializers.IntegerField()
    nearest_deadline = serializers.DateTimeField(allow_null=True)
    reasons = serializers.ListField(child=serializers.CharField(), help_text="Why they rank where they do, in words.")

    def get_suggested_as(self, candidate) -> str | None:
        suggestions = self.context["suggestions"]
        if candidate is suggestions.lead:
            return "lead"
        return "member" if candidate in suggestions.reviewers else None


class LeftOutSerializer(serializers.Serializer):
    reviewer = serializers.CharField(source="reviewer.username")
    name = serializers.CharField(source="reviewer")
    reasons = serializers.ListField(child=serializers.CharField(), source="excluded_because")


class SuggestionsSerializer(serializers.Serializer):
    clearance_needed = serializers.CharField(source="clearance_needed_label")
    domains = serializers.ListField(child=serializers.CharField(), help_text="The planned domains, by name.")
    window_starts_on = serializers.DateField(help_text="The review window's days, which leave is read against.")
    window_ends_on = serializers.DateField()
    candidates = CandidateSerializer(many=True, help_text="Eligible, best first; those on leave last.")
    left_out = LeftOutSerializer(many=True, source="excluded", help_text="Not eligible, with the reasons.")


# Operations under /submissions/{id}/assignments/ beside listing and assigning, mixed into the
# submission view set, whose get_object scopes the submission. (No docstring: the schema would
# take it for the description of every operation of the view set.)
class AssignmentActions:
    @extend_schema(
        summary="End an assignment, or hand it to another reviewer (administrators, lead reviewers)",
        description=(
            "Takes the reviewer off the review; with `hand_to`, that reviewer takes over the same role and is told, "
            "with the note. The lead is only handed over, to a lead reviewer (400 without `hand_to`). The one taking "
            "over passes the checks of assigning (conflicts, role, the clearance gap acknowledged). A concurrence "
            "the outgoing reviewer gave to a proposal not yet issued is withdrawn. 409 once the review is no longer "
            "open."
        ),
        request=AssignmentEndSerializer,
        responses={200: AssignmentEndedSerializer, **_errors(400, 401, 403, 404, 429, extra=CONFLICT)},
    )
    @action(detail=True, filter_backends=[], methods=["post"], url_path=r"assignments/(?P<assignment_id>[0-9]+)/end")
    def end_assignment(self, request, pk=None, assignment_id=None):
        submission = self.get_object()
        if not rules.may_end_assignments(request.user, submission):
            raise NotPermitted(review_services.MSG_END_WHO)
        assignment = get_object_or_404(
            submission.assignments.select_related("reviewer", "submission__organization"), pk=row_id(assignment_id)
        )
        body = AssignmentEndSerializer(data=request.data, context={"request": request})
        body.is_valid(raise_exception=True)
        handover = review_services.assignment_end(assignment=assignment, actor=request.user, **body.validated_data)
        answer = {"handover": handover, "assignment": handover.assignment, "two_person_gap": two_person_gap(submission)}
        return Response(AssignmentEndedSerializer(answer).data)

    @extend_schema(
        summary="Who would fit this review, ranked with the reasons (administrators, lead reviewers)",
        description=(
            "The reviewers of the review's world not on it: eligible ones ranked by expertise in the planned "
            "domains, then workload; those on leave during the review window last, with their dates, and never "
            "suggested. Those left out (conflicts, clearance) with the reasons."
        ),
        responses={200: SuggestionsSerializer, **_errors(401, 403, 404, 429)},
    )
    @action(detail=True, filter_backends=[], methods=["get"], url_path="assignments/suggestions")
    def assignment_suggestions(self, request, pk=None):
        submission = self.get_object()
        if not rules.may_assign_reviewers(request.user, submission):
            raise NotPermitted(MSG_SUGGESTIONS_WHO)
        suggestions = assignment_suggestions(submission, submission.exercise_id)
        return Response(SuggestionsSerializer(suggestions, context={"suggestions": suggestions}).data)
