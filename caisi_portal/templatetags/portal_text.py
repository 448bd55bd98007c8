from django import template

from caisi_portal.text import render_markdown

register = template.Library()


@register.filter(name="markdown")
def markdown_filter(text):
    """`{{ finding.description|markdown }}`: Markdown rendered and cleaned (caisi_portal.text)."""
    return render_markdown(text)
