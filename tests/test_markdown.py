"""Free text is Markdown, rendered through an allow-list: formatting survives, scripts do not."""

from html.parser import HTMLParser

import pytest
from django.urls import reverse

from caisi_portal.text import ALLOWED_TAGS, render_markdown
from reviews import services as review_services
from reviews.models import EvaluationDomain, Finding
from submissions.models import State


def test_formatting_survives():
    html = render_markdown("**Uplift** in _two_ domains:\n\n- cyber\n- bio\n\n`code` and [CVE](https://cve.example/1)")
    assert "<strong>Uplift</strong>" in html and "<em>two</em>" in html and "<li>cyber</li>" in html
    assert "<code>code</code>" in html
    assert '<a href="https://cve.example/1" rel="noopener noreferrer nofollow">CVE</a>' in html


@pytest.mark.parametrize(
    "hostile",
    [
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        "[click](javascript:alert(1))",
        "[click](JaVaScRiPt:alert(1))",
        "<a href='javascript:alert(1)'>x</a>",
        '<iframe src="https://evil.example"></iframe>',
        "![x](https://tracker.example/pixel.gif)",
        '<div style="background:url(javascript:alert(1))">x</div>',
        "<svg onload=alert(1)>",
        "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    ],
)
def test_nothing_active_gets_through(hostile):
    """Parsed as a browser would: only allowed tags, no handlers, links only to http(s)/mailto."""
    elements = []

    class Collect(HTMLParser):
        def handle_starttag(self, tag, attrs):
            elements.append((tag, dict(attrs)))

    Collect().feed(render_markdown(hostile))
    for tag, attrs in elements:
        assert tag in ALLOWED_TAGS, (hostile, tag)
        assert not any(name.startswith("on") or name == "style" for name in attrs), (hostile, attrs)
        if "href" in attrs:
            assert attrs["href"].split(":")[0] in ("http", "https", "mailto"), (hostile, attrs)


def test_headings_do_not_outrank_the_page():
    html = render_markdown("# Big\n\n## Smaller")
    assert "<h1>" not in html and "<h3>Big</h3>" in html and "<h4>Smaller</h4>" in html


@pytest.mark.django_db
def test_a_finding_renders_as_markdown_on_the_submission_page(cast, client):
    s = cast.submission(State.EVALUATION)
    review_services.finding_record(
        submission=s,
        actor=cast.reviewer,
        domain=EvaluationDomain.objects.first(),
        severity=Finding.Severity.LOW,
        classification=0,
        title="Jailbreak",
        description="Works with **three** turns.\n\n<script>alert('x')</script>",
    )
    client.force_login(cast.lead)
    page = client.get(reverse("submissions:detail", args=[s.pk])).content.decode()
    assert "<strong>three</strong>" in page
    assert "<script>alert" not in page
