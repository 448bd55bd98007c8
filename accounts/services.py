"""Changes to people's own settings: the private calendar link, the time zone."""

import hashlib
import secrets

from caisi_portal import clock

from .models import CalendarFeedToken


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def calendar_token_issue(*, user) -> str:
    """Make a new private calendar link token (the old one stops working). Shown once."""
    from caisi_portal.errors import NotPermitted

    from . import rules

    if not rules.may_hold_calendar_link(user):
        raise NotPermitted("Exercise accounts have no calendar link: their deadlines are simulated.")
    token = secrets.token_urlsafe(32)
    CalendarFeedToken.objects.update_or_create(
        user=user, defaults={"token_hash": _digest(token), "created_at": clock.now()}
    )
    return token


def calendar_token_revoke(*, user) -> None:
    CalendarFeedToken.objects.filter(user=user).delete()


def calendar_token_user(token: str):
    """The active user a calendar token belongs to, or None."""
    found = CalendarFeedToken.objects.select_related("user").filter(token_hash=_digest(token)).first()
    from . import rules

    # The feed is the owner's, in the owner's world: a link stops with its owner's access.
    if found is None or not rules.may_hold_calendar_link(found.user) or not rules.may_sign_in(found.user):
        return None
    return found.user


def time_zone_set(*, user, name: str) -> None:
    """Show this person's dates and times in `name` (an IANA zone; empty for UTC)."""
    import zoneinfo

    from caisi_portal.errors import ValidationFailed

    if name and name not in zoneinfo.available_timezones():
        raise ValidationFailed(f"{name!r} is not a time zone.", details={"time_zone": ["Choose a time zone."]})
    from django.db import transaction

    from partners import digests

    from .models import NotificationPreference

    with transaction.atomic():
        user.time_zone = name
        user.save(update_fields=["time_zone"])
        # Digest hours and quiet hours are on the person's own clock: held items follow the new one.
        preference = NotificationPreference.objects.filter(user=user).first()
        if preference is not None:
            digests.held_reschedule(schedule=digests.person_schedule(preference, name), now=clock.now(), recipient=user)


def notification_preference_set(
    *,
    user,
    cadence: str,
    digest_hour: int = 8,
    digest_weekday: int = 0,
    quiet_start: int | None = None,
    quiet_end: int | None = None,
):
    """When this person is emailed. Items already held for a digest follow the new choice."""
    from django.db import transaction

    from partners import digests

    from .models import NotificationPreference

    with transaction.atomic():
        preference = NotificationPreference.objects.select_for_update().filter(user=user).first()
        preference = preference or NotificationPreference(user=user)
        preference.cadence, preference.digest_hour, preference.digest_weekday = cadence, digest_hour, digest_weekday
        preference.quiet_start, preference.quiet_end = quiet_start, quiet_end
        preference.full_clean()
        preference.save()
        digests.held_reschedule(
            schedule=digests.person_schedule(preference, user.time_zone), now=clock.now(), recipient=user
        )
    return preference
