"""Who may call the API at all (what each operation allows is decided by accounts.rules)."""

from rest_framework.permissions import SAFE_METHODS, IsAuthenticated

from accounts import rules

MSG_PLAYER = "Exercise accounts cannot use the API: play the exercise on the portal's pages."
MSG_READ_ONLY = "This API token is read-only: make a token with write access on your account page."


class LiveAccounts(IsAuthenticated):
    """Signed-in live accounts (exercises are played on the pages, never through the API),
    and a read-only token only reads, whatever its owner may do."""

    message = MSG_PLAYER

    def has_permission(self, request, view):
        if not super().has_permission(request, view):
            return False
        if not rules.may_use_api(request.user):
            self.message = MSG_PLAYER
            return False
        if getattr(request.auth, "read_only", False) and request.method not in SAFE_METHODS:
            self.message = MSG_READ_ONLY
            return False
        return True


class LiveAdministrators(LiveAccounts):
    """The office's own records (breaches, the outbox, partners): live administrators."""

    def has_permission(self, request, view):
        if not super().has_permission(request, view):
            return False
        if not rules.may_manage_partners(request.user):
            self.message = "Only the office's administrators may use this."
            return False
        return True


class IntegrationManagers(LiveAccounts):
    """A developer organization's webhook endpoints: its integration managers."""

    def has_permission(self, request, view):
        if not super().has_permission(request, view):
            return False
        if not rules.may_manage_integrations(request.user):
            from partners.integrations import MSG_NOT_PERMITTED

            self.message = MSG_NOT_PERMITTED
            return False
        return True


class PartnerStaff(LiveAccounts):
    """A trusted partner's own staff, for their own organization's integration."""

    def has_permission(self, request, view):
        if not super().has_permission(request, view):
            return False
        if not rules.may_view_partner_integration(request.user):
            self.message = "This is for a trusted partner's own staff, about their own organization."
            return False
        return True


class CapacityPlanners(LiveAccounts):
    """The capacity planner's scenarios: live administrators (accounts.rules.may_plan_capacity)."""

    def has_permission(self, request, view):
        if not super().has_permission(request, view):
            return False
        if not rules.may_plan_capacity(request.user):
            self.message = "Only the office's administrators plan its capacity."
            return False
        return True
