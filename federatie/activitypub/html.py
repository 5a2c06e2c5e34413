"""Sanitising HTML from other servers (and from our own people) with nh3 (ammonia).

What survives is what Mastodon's own sanitiser keeps, plus headings and lists for blog
articles: text structure, links and mentions. No scripts, styles, images, forms or event
handlers; links get `rel="nofollow noopener noreferrer"` and only http(s) and mailto schemes.
"""

from __future__ import annotations

import nh3

ALLOWED_TAGS = frozenset(
    {
        "p",
        "br",
        "a",
        "span",
        "del",
        "s",
        "pre",
        "code",
        "em",
        "strong",
        "b",
        "i",
        "u",
        "ul",
        "ol",
        "li",
        "blockquote",
        "h2",
        "h3",
        "h4",
        "hr",
    }
)
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "ol": {"start", "reversed"},
    "li": {"value"},
}
# Classes Mastodon and Lemmy put on mentions and hashtags; they carry meaning for clients.
# (nh3 refuses `class` in `attributes` when `allowed_classes` names the tag.)
_ALLOWED_CLASSES = {
    "a": {"mention", "hashtag", "u-url", "status-link"},
    "span": {"h-card", "invisible", "ellipsis"},
}


def sanitize_html(html: str) -> str:
    """Clean untrusted HTML; the script and style elements go with their content."""
    return nh3.clean(
        html,
        tags=set(ALLOWED_TAGS),
        clean_content_tags={"script", "style"},
        attributes={tag: set(attrs) for tag, attrs in ALLOWED_ATTRIBUTES.items()},
        url_schemes={"http", "https", "mailto"},
        link_rel="nofollow noopener noreferrer",
        allowed_classes={tag: set(classes) for tag, classes in _ALLOWED_CLASSES.items()},
    )
