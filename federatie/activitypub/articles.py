"""Blog posts on the wire: an `Article` with a title, a summary, sanitised HTML and its source.

Mastodon shows an Article as its `name` (title), its `summary` and a link to its `url` (the
HTML page), never the content, so the summary must stand on its own: when the author gives
none it is derived from the content (plain text, at most `SUMMARY_LENGTH` characters, cut at
a word). The content is always sanitised HTML (`mediaType` text/html); a post written in
Markdown keeps its Markdown as `source` (ActivityPub section 3.3), as Mastodon and
Pleroma do for their own posts. Themes are `Hashtag` tags pointing at the groups directory.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from typing import Any

import nh3
from markdown_it import MarkdownIt

from federatie.activitypub.html import sanitize_html
from federatie.activitypub.iris import AS_CONTEXT
from federatie.domain.blogs import HTML, MARKDOWN

SUMMARY_LENGTH = 300
# `Hashtag` is not in the ActivityStreams context; Mastodon defines it as as:Hashtag.
ARTICLE_CONTEXT: list[Any] = [AS_CONTEXT, {"Hashtag": "as:Hashtag"}]

# CommonMark with raw HTML allowed (the result is sanitised anyway) and ~~strikethrough~~.
# markdown-it refuses javascript:, vbscript:, file: and most data: links by itself.
_markdown = MarkdownIt("commonmark", {"html": True}).enable("strikethrough")
# Tags after which the text of one block must not run into the next.
_BLOCK_BOUNDARY = re.compile(
    r"</?(?:p|br|li|ul|ol|h[1-6]|blockquote|pre|hr|div|table|tr|td|th)\b[^>]*>", re.IGNORECASE
)


def render_markdown(source: str) -> str:
    """Markdown to sanitised HTML. The page's title is the `h1`, so headings become h2 to h4."""
    tokens = _markdown.parse(source)
    for token in tokens:
        if token.type in ("heading_open", "heading_close"):
            level = int(token.tag[1])
            token.tag = f"h{min(max(level + 1, 2), 4)}"
    rendered: str = _markdown.renderer.render(tokens, _markdown.options, {})
    return sanitize_html(rendered).strip()


def render_content(source: str, source_type: str) -> str:
    """The sanitised HTML of a post written in Markdown or in HTML."""
    return render_markdown(source) if source_type == MARKDOWN else sanitize_html(source)


def plain_text(fragment: str) -> str:
    """The text of an HTML fragment: no tags, entities resolved, whitespace collapsed."""
    spaced = _BLOCK_BOUNDARY.sub(" ", fragment)
    text = nh3.clean(spaced, tags=set(), clean_content_tags={"script", "style"})
    return " ".join(html.unescape(text).split())


def shorten(text: str, limit: int = SUMMARY_LENGTH) -> str:
    """At most `limit` characters, cut at a word boundary with an ellipsis when cut."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if " " in cut[limit // 2 :]:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip(" ,.;:-") + "…"


def summary_html(given: str | None, content: str) -> str:
    """The Article's `summary`: the author's plain text, or one derived from the content,
    as HTML-escaped text (ActivityStreams `summary` is HTML)."""
    text = " ".join(given.split()) if given else shorten(plain_text(content))
    return html.escape(text, quote=False)


def hashtag(base_url: str, theme: str) -> dict[str, str]:
    """A theme as a Hashtag, linking to the groups with that theme (as group actors do)."""
    return {"type": "Hashtag", "name": f"#{theme}", "href": f"{base_url}/groups?theme={theme}"}


def page_url(base_url: str, key: str) -> str:
    """The post's HTML page (its `url`; the id is /objects/<key>)."""
    return f"{base_url}/blog/{key}"


def replies_uri(object_uri: str) -> str:
    return f"{object_uri}/replies"


def article_document(
    *,
    uri: str,
    url: str,
    author: str,
    title: str,
    summary: str,
    content: str,
    source: str,
    source_type: str,
    tags: Sequence[Mapping[str, Any]],
    attachment: Sequence[Mapping[str, Any]],
    published: str,
    updated: str | None,
    addressing: Mapping[str, Any],
) -> dict[str, Any]:
    """The Article served at `uri`; `summary` and `content` are HTML already made safe."""
    doc: dict[str, Any] = {
        "@context": ARTICLE_CONTEXT,
        "id": uri,
        "type": "Article",
        "attributedTo": author,
        "name": title,
        "summary": summary,
        "content": content,
        "mediaType": HTML,
        "url": url,
        "replies": replies_uri(uri),
        "tag": [dict(tag) for tag in tags],
        "attachment": [dict(item) for item in attachment],
        "published": published,
        **addressing,
    }
    if source_type == MARKDOWN:
        doc["source"] = {"content": source, "mediaType": MARKDOWN}
    if updated is not None:
        doc["updated"] = updated
    return doc
