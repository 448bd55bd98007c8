"""Who may call the API at all (what each operation allows is decided by accounts.rules)."""

from rest_framework.permissions import IsAuthenticated

from accounts import rules


class LiveAccounts(IsAuthenticated):
    """Signed-in live accounts: exercises are played on the pages, never through the API."""

    message = "Exercise accounts cannot use the API: play the exercise on the portal's pages."

    def has_permission(self, request, view):
        return super().has_permission(request, view) and rules.may_use_api(request.user)


class LiveAdministrators(LiveAccounts):
    """The office's own records (breaches, the outbox, partners): live administrators."""

    message = "Only the office's administrators may use this."

    def has_permission(self, request, view):
        return super().has_permission(request, view) and rules.may_manage_partners(request.user)
