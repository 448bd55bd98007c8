from .roles import Role, user_roles


def roles(request):
    """Expose the user's roles to templates for navigation (never for access decisions)."""
    held = user_roles(request.user)
    return {"user_roles": held, "Role": Role}
