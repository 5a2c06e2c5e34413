"""Blog posts as pure functions: Markdown, sanitising, summaries, and checking input."""

from __future__ import annotations

import pytest

from federatie.activitypub.articles import plain_text, render_markdown, shorten, summary_html
from federatie.domain.blogs import PostFields, apply_changes, parse_new_post
from federatie.errors import PayloadTooLarge, Unprocessable


def test_headings_start_below_the_page_title_and_stop_at_h4() -> None:
    html = render_markdown("# Een\n\n## Twee\n\n##### Vijf")
    assert html == "<h2>Een</h2>\n<h3>Twee</h3>\n<h4>Vijf</h4>"


@pytest.mark.parametrize(
    ("markdown", "absent"),
    [
        ("<script>alert(1)</script>", "alert"),
        ('<a href="javascript:alert(1)">x</a>', "javascript"),
        ('<p onclick="x()">y</p>', "onclick"),
        ("[x](javascript:alert(1))", "href"),
        ('<img src="x" onerror="alert(1)">', "<img"),
        ("<style>p{}</style>", "p{}"),
        ('<a href="data:text/html;base64,PHNjcmlwdD4=">x</a>', "data:"),
    ],
)
def test_hostile_markdown_and_html_are_removed(markdown: str, absent: str) -> None:
    assert absent not in render_markdown(markdown)


def test_plain_text_and_summaries() -> None:
    assert plain_text("<p>a &amp; b</p><p>c</p><ul><li>d</li></ul>") == "a & b c d"
    assert shorten("kort") == "kort"
    long = "woord " * 100
    cut = shorten(long, 50)
    assert len(cut) <= 50 and cut.endswith("woord…")
    assert summary_html(None, "<p>1 &lt; 2</p>") == "1 &lt; 2"
    assert (
        summary_html("Eigen <b>tekst</b>", "<p>genegeerd</p>") == "Eigen &lt;b&gt;tekst&lt;/b&gt;"
    )


def test_input_is_checked_field_by_field() -> None:
    fields, publish = parse_new_post(
        {"title": "  Een \n titel ", "content": "x", "themes": ["#Water", "water"], "publish": True}
    )
    assert fields.title == "Een titel" and fields.themes == ("water",) and publish
    with pytest.raises(Unprocessable, match="title"):
        parse_new_post({"content": "x"})
    with pytest.raises(PayloadTooLarge):
        parse_new_post({"title": "t", "content": "é" * 60_000})
    with pytest.raises(Unprocessable, match="unknown"):
        parse_new_post({"title": "t", "content": "x", "body": "y"})
    current = PostFields(title="t", content="x", summary="s")
    assert apply_changes(current, {"summary": None}, replace_all=False).summary is None
    assert apply_changes(current, {"title": "n", "content": "y"}, replace_all=True).summary is None
    with pytest.raises(Unprocessable):
        apply_changes(current, {}, replace_all=False)
    with pytest.raises(Unprocessable, match="url"):
        parse_new_post({"title": "t", "content": "x", "attachment": [{"url": "ftp://x/y"}]})
