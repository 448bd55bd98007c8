from .roles import Role, user_roles


def roles(request):
    """Expose the user's roles to templates for navigation (never for access decisions)."""
    from django.conf import settings

    held = user_roles(request.user)
    return {"user_roles": held, "Role": Role, "demo_receiver": settings.DEMO_WEBHOOK_RECEIVER}
