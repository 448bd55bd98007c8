"""Password sign-in that also refuses exercise accounts whose sheet password has expired."""

from django.contrib.auth.backends import ModelBackend

from . import rules


class PortalBackend(ModelBackend):
    """ModelBackend, with the policy's `may_sign_in` in place of a bare `is_active`.

    Django asks `user_can_authenticate` both at sign-in and on every request that carries a
    session (`get_user`), so an account that may no longer sign in is also signed out.
    """

    def user_can_authenticate(self, user):
        return super().user_can_authenticate(user) and rules.may_sign_in(user)
