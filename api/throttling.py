from rest_framework.throttling import SimpleRateThrottle


class TokenRateThrottle(SimpleRateThrottle):
    """Per API token (or per signed-in session user when no token is used)."""

    scope = "token"

    def get_cache_key(self, request, view):
        if not request.user or not request.user.is_authenticated:
            return None
        ident = f"token-{request.auth.pk}" if getattr(request.auth, "pk", None) else f"user-{request.user.pk}"
        return self.cache_format % {"scope": self.scope, "ident": ident}


class IpRateThrottle(SimpleRateThrottle):
    """Per client address, whoever is asking: a brake on token guessing and floods."""

    scope = "ip"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
