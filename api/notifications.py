"""A person's own notifications in the API: what waits for their digest (the same rule and
selector as their page, accounts.rules.scope_held_deliveries and partners.selectors.held_for)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers, viewsets

from partners.models import Delivery
from partners.selectors import held_for

from .views import LIST_ERRORS


class HeldDeliverySerializer(serializers.ModelSerializer):
    """One email held for its reader's digest: what, about which submission, when it goes out."""

    event_type = serializers.CharField(source="event.type", read_only=True)
    label = serializers.CharField(source="event.label", read_only=True, help_text="The event, in words.")
    submission = serializers.IntegerField(source="event.submission_id", read_only=True)
    model_name = serializers.SerializerMethodField()
    model_version = serializers.SerializerMethodField()
    organization = serializers.SerializerMethodField(help_text="The developer organization, as the digest names it.")
    occurred_at = serializers.DateTimeField(source="event.occurred_at", read_only=True)
    goes_out_at = serializers.DateTimeField(
        source="next_attempt_at", read_only=True, help_text="When the digest carrying it is due."
    )

    class Meta:
        model = Delivery
        fields = [
            "id",
            "event_type",
            "label",
            "submission",
            "model_name",
            "model_version",
            "organization",
            "occurred_at",
            "goes_out_at",
            "address",
        ]
        read_only_fields = fields

    # As the digest will say them: the event's own record of the submission when it happened.
    def get_model_name(self, delivery) -> str:
        return str(delivery.event.payload.get("model_name", ""))

    def get_model_version(self, delivery) -> str:
        return str(delivery.event.payload.get("model_version", ""))

    def get_organization(self, delivery) -> str:
        return str(delivery.event.payload.get("organization", ""))


@extend_schema_view(
    list=extend_schema(
        summary="Your own emails held for your next digest, the soonest to go out first",
        description=(
            "Only what is addressed to you, whatever your role (administrators see everyone's in "
            "`/deliveries/`). Choosing to be emailed immediately, on your account page, sends them at once."
        ),
        responses={200: HeldDeliverySerializer(many=True), **LIST_ERRORS},
    ),
)
class HeldDeliveryViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = HeldDeliverySerializer
    filter_backends = []

    def get_queryset(self):
        return held_for(self.request.user)
