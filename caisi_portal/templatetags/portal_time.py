import datetime as dt

from django import template
from django.utils import timezone
from django.utils.dateformat import format as date_format
from django.utils.html import format_html

register = template.Library()


@register.filter
def instant(value, fmt="Y-m-d H:i T"):
    """A moment in the reader's time zone, with its exact UTC instant on hover.

    `{{ clock.deadline_at|instant }}` renders <time datetime="...+00:00" title="exact UTC">local</time>.
    """
    if not value:
        return ""
    exact = value.astimezone(dt.UTC)
    return format_html(
        '<time datetime="{}" title="{}">{}</time>',
        exact.isoformat(),
        exact.strftime("%Y-%m-%d %H:%M:%S UTC"),
        date_format(timezone.localtime(value), fmt),
    )
