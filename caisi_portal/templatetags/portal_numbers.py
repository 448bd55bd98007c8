from django import template

from caisi_portal.words import days_in_words, speed_in_words

register = template.Library()


@register.filter
def in_days(value):
    """`{{ median|in_days }}`: '4.5 days', '3 hours'; empty for no value."""
    return days_in_words(value)


@register.filter
def speed_words(value):
    """`{{ exercise.speed|speed_words }}`: '1 simulated day passes in 1 real minute'."""
    return speed_in_words(value)
