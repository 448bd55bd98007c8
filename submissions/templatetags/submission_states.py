from django import template

from submissions.models import State

register = template.Library()
_LABELS = dict(State.choices)


@register.filter
def state_label(value):
    """A state's name as people read it ("Information requested"), not its code."""
    return _LABELS.get(value, value)
