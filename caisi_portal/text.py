"""People's free text (questions, answers, findings, rationales) rendered as Markdown, safely.

markdown-it-py renders CommonMark with raw HTML switched off; nh3 (ammonia) then keeps
only the tags and attributes below, so neither a `<script>` typed into a finding nor a
`javascript:` link reaches another reader's page.
"""

import nh3
from django.utils.safestring import SafeString, mark_safe
from markdown_it import MarkdownIt

_markdown = MarkdownIt("commonmark", {"html": False, "breaks": True}).enable(["table", "strikethrough"])

ALLOWED_TAGS = {
    "p", "br", "strong", "em", "del", "code", "pre", "blockquote", "ul", "ol", "li",
    "h3", "h4", "h5", "h6", "a", "table", "thead", "tbody", "tr", "th", "td", "hr",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}, "th": {"align"}, "td": {"align"}}


def render_markdown(text: str) -> SafeString:
    html = _markdown.render(text or "")
    # Headings from a finding must not outrank the page's own: # and ## become h3/h4.
    html = html.replace("<h1>", "<h3>").replace("</h1>", "</h3>").replace("<h2>", "<h4>").replace("</h2>", "</h4>")
    cleaned = nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )
    return mark_safe(cleaned)  # noqa: S308  # nosec B308 B703 - cleaned by nh3 with an allow-list above


# --- control characters -------------------------------------------------------------------
# A line break in a model name becomes a line break in an email's Subject header, and Django
# refuses to send such a message (BadHeaderError): one developer could silence every email
# about its submission. NUL is refused by PostgreSQL. So one-line fields (names, versions,
# titles) take no control character at all, and multi-line text takes line breaks and tabs only.

_SEPARATORS = {"\u2028", "\u2029"}  # Unicode line and paragraph separators
# Direction overrides and isolates make text read otherwise than it is stored ("Trojan Source").
_BIDI = {chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))}
MULTI_LINE_ALLOWED = {"\n", "\r", "\t"}


def _noncharacter(c: str) -> bool:
    """U+FDD0..U+FDEF and the last two code points of every plane: never meant for interchange,
    and XML (the register's Atom feed) refuses U+FFFE and U+FFFF outright."""
    code = ord(c)
    return 0xFDD0 <= code <= 0xFDEF or (code & 0xFFFE) == 0xFFFE


def control_characters(value: str, *, allowed=frozenset(), invisible=True) -> list[str]:
    """The control characters in `value` (as people can read them), those in `allowed` aside.

    With `invisible`, format characters too (zero-width spaces, direction overrides): a name
    must read as it is stored. Longer text keeps ordinary format characters (an emoji's
    zero-width joiner) but never direction overrides.
    """
    import unicodedata

    def bad(c):
        if c in allowed:
            return False
        category = unicodedata.category(c)
        return (
            category in ("Cc", "Cs")
            or c in _SEPARATORS
            or c in _BIDI
            or _noncharacter(c)
            or (invisible and category == "Cf")
        )

    return sorted(f"U+{ord(c):04X}" for c in {c for c in value if bad(c)})


def has_words(value) -> bool:
    """Text a person can read: at least one letter or digit (not only spaces or invisible marks)."""
    return any(c.isalnum() for c in str(value or ""))


MSG_ONE_LINE = (
    "Use one line of plain text: line breaks, tabs, invisible and other control characters ({found}) are not allowed."
)
MSG_MULTI_LINE = "Remove the control characters ({found}): only line breaks and tabs are allowed in text."


def validate_single_line(value) -> None:
    """Django validator for fields that can reach an email header, a subject or a file name."""
    from django.core.exceptions import ValidationError

    found = control_characters(str(value))
    if found:
        raise ValidationError(MSG_ONE_LINE.format(found=", ".join(found)), code="control_characters")


def validate_multi_line(value) -> None:
    from django.core.exceptions import ValidationError

    found = control_characters(str(value), allowed=MULTI_LINE_ALLOWED, invisible=False)
    if found:
        raise ValidationError(MSG_MULTI_LINE.format(found=", ".join(found)), code="control_characters")


# How long free text may be where no form field says: a page, an email and a webhook carry it.
LONG_TEXT = 20000
SHORT_TEXT = 2000


def text_problems(
    *, single_line: dict | None = None, multi_line: dict | None = None, limits: dict | None = None
) -> dict[str, list[str]]:
    """field -> messages, for services that take text outside a model form.

    `limits` caps fields by name (characters); a multi-line field has LONG_TEXT unless given.
    """
    problems: dict[str, list[str]] = {}
    for name, value in {**(single_line or {}), **(multi_line or {})}.items():
        limit = (limits or {}).get(name, LONG_TEXT if name in (multi_line or {}) else None)
        if isinstance(value, str) and limit is not None and len(value) > limit:
            problems[name] = [f"Keep it to {limit:,} characters at most (this has {len(value):,})."]
    for fields, allowed, message, invisible in (
        (single_line or {}, frozenset(), MSG_ONE_LINE, True),
        (multi_line or {}, MULTI_LINE_ALLOWED, MSG_MULTI_LINE, False),
    ):
        for name, value in fields.items():
            if isinstance(value, str):
                found = control_characters(value, allowed=allowed, invisible=invisible)
                if found and name not in problems:
                    problems[name] = [message.format(found=", ".join(found))]
    return problems


def one_line(value) -> str:
    """A header-safe single line: every control character and separator becomes a space."""
    return "".join(" " if control_characters(c) else c for c in str(value))
