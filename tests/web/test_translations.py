"""Every message of the web pages has its Dutch translation, and the catalogue files are sound.

Messages are extracted the way `pybabel extract` would: `_()`, `gettext()` and `ngettext()`
in templates (Jinja's Babel extractor) and `gettext()`/`ngettext()` in federatie/web/ui and
federatie/web/mastodon.
"""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from federatie.web.ui.i18n import CATALOGUE_DIR, translations

PACKAGE = Path(__file__).resolve().parents[2] / "federatie"
METHODS = [
    ("templates/**.html", "jinja2.ext:babel_extract"),
    ("web/ui/**.py", "python"),
    ("web/mastodon/**.py", "python"),  # the OAuth consent page
]
OPTIONS = {"templates/**.html": {"extensions": "jinja2.ext.i18n"}}
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2)}


def extracted() -> dict[str, str]:
    """msgid -> where it is used."""
    found: dict[str, str] = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
        str(PACKAGE), METHODS, options_map=OPTIONS, keywords=KEYWORDS
    ):
        ids = message if isinstance(message, tuple) else (message,)
        for msgid in ids:
            if msgid:
                found.setdefault(msgid, f"{filename}:{lineno}")
    return found


def test_every_message_has_a_dutch_translation() -> None:
    messages = extracted()
    assert len(messages) > 20
    dutch = translations("nl")
    missing = sorted(
        f"{where}: {msgid!r}" for msgid, where in messages.items() if dutch.gettext(msgid) == msgid
    )
    assert not missing, "add these to a .po file in federatie/locale/nl/LC_MESSAGES:\n" + "\n".join(
        missing
    )


def test_catalogue_files_parse_and_keep_placeholders() -> None:
    files = sorted((CATALOGUE_DIR / "nl" / "LC_MESSAGES").glob("*.po"))
    assert files
    seen: dict[str, Path] = {}
    for path in files:
        with path.open("rb") as source:
            catalogue = read_po(source, locale="nl")
        for message in catalogue:
            if not message.id:
                continue
            msgid = message.id if isinstance(message.id, str) else message.id[0]
            assert msgid not in seen, f"{msgid!r} is in both {seen[msgid].name} and {path.name}"
            seen[msgid] = path
            strings = message.string if isinstance(message.string, tuple) else (message.string,)
            for text in strings:
                assert text, f"{path.name}: {msgid!r} has no translation"
                for placeholder in ("%(", "%s"):
                    assert msgid.count(placeholder) == text.count(placeholder), (path.name, msgid)
