"""Dutch and English for the web pages, through Babel's gettext catalogues.

Messages are written in English in templates (`{{ _("Sign in") }}`) and code
(`gettext("...")`); the .po files in `federatie/locale/nl/LC_MESSAGES/` hold the Dutch, one
file per area of the site (accounts.po, groups.po, ...), merged into one catalogue when the
process starts and compiled in memory, so no binary .mo file is kept in the repository.
`tests/web/test_translations.py` extracts every message and checks each has its Dutch.
The language comes from the `lang` cookie the switcher sets, else from the browser's
Accept-Language, else Dutch.
"""

from __future__ import annotations

import gettext as stdlib_gettext
import io
from functools import cache
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations
from quart import g, has_request_context, request

LOCALES = ("nl", "en")
DEFAULT_LOCALE = "nl"
LANGUAGE_COOKIE = "lang"
CATALOGUE_DIR = Path(__file__).resolve().parent.parent.parent / "locale"


@cache
def translations(locale: str) -> stdlib_gettext.NullTranslations:
    """The compiled catalogue of `locale`; English is the source language."""
    if locale == "en":
        return stdlib_gettext.NullTranslations()
    catalogue = Catalog(locale=locale)
    for path in sorted((CATALOGUE_DIR / locale / "LC_MESSAGES").glob("*.po")):
        with path.open("rb") as source:
            for message in read_po(source, locale=locale):
                if message.id and message.string and not message.fuzzy:
                    catalogue[message.id] = message
    compiled = io.BytesIO()
    write_mo(compiled, catalogue)
    compiled.seek(0)
    return Translations(compiled)


def select_locale() -> str:
    chosen = request.cookies.get(LANGUAGE_COOKIE)
    if chosen in LOCALES:
        return chosen
    return request.accept_languages.best_match(LOCALES) or DEFAULT_LOCALE


def current_locale() -> str:
    if not has_request_context():
        return DEFAULT_LOCALE
    if "locale" not in g:
        g.locale = select_locale()
    locale: str = g.locale
    return locale


def gettext(message: str, **variables: object) -> str:
    """`message` in the request's language, with `%(name)s` placeholders filled in."""
    text = translations(current_locale()).gettext(message)
    return text % variables if variables else text


def ngettext(singular: str, plural: str, n: int, **variables: object) -> str:
    text = translations(current_locale()).ngettext(singular, plural, n)
    return text % {"num": n, **variables}


def _translate(message: str) -> str:
    return translations(current_locale()).gettext(message)


def _translate_plural(singular: str, plural: str, n: int) -> str:
    return translations(current_locale()).ngettext(singular, plural, n)


def install(jinja_env: object) -> None:
    """`_()`, `gettext()` and `ngettext()` in templates; Jinja fills in the placeholders."""
    from jinja2 import Environment

    assert isinstance(jinja_env, Environment)
    jinja_env.add_extension("jinja2.ext.i18n")
    jinja_env.install_gettext_callables(  # type: ignore[attr-defined]
        _translate, _translate_plural, newstyle=True
    )
