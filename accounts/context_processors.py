from . import rules


def roles(request):
    """The menu's entries for this person, each decided by a rule in accounts.rules.

    Templates read `nav.<entry>` flags, never role names: the page and the rule it links to
    cannot disagree.
    """
    return {"nav": rules.navigation(request.user)}
