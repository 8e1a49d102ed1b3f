"""Message bodies rendered as HTML: escaped text, clickable links."""

from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st

from app.domain.content import _linked_html, clean_body, render_html


def test_links_become_safe_anchors():
    html = render_html("See https://shop.com/orders?id=1 or mail help@shop.com")
    assert (
        '<a href="https://shop.com/orders?id=1" rel="noopener nofollow" '
        'target="_blank">https://shop.com/orders?id=1</a>'
    ) in html
    assert 'href="mailto:help@shop.com"' in html


def test_markup_stays_text():
    html = render_html('<script>alert("x")</script> & <a href="javascript:x">y</a>')
    assert "<script>" not in html and "<a " not in html
    assert html.startswith("&lt;script&gt;")


def test_plain_text_is_escaped_like_the_full_path():
    text = "Hi, my order #12 hasn't arrived <yet> & I'm \"worried\". Thanks!"
    assert render_html(text) == _linked_html(text)


# Text as the sanitizer stores it: any characters, control ones stripped.
bodies = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=80
).filter(lambda text: text.strip())


@settings(max_examples=600, deadline=None)
@given(bodies)
@example("a.b")
@example("x.\u212a")  # the Kelvin sign matches "k" case-insensitively
@example("mail me at a@b.co")
@example("&amp; &copy &#39; \u00a0 \ufeff")
def test_shortcut_gives_what_bleach_gives(text):
    """Whatever the text, the shortcut never changes the HTML."""
    try:
        body = clean_body(text)
    except Exception:
        return
    assert render_html(body) == _linked_html(body)
