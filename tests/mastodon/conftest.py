"""Fixtures for the Mastodon API tests (helpers are in tests/mastodon_support.py)."""

from __future__ import annotations

import pytest
from harness import Instance, people
from mastodon_support import token_for


@pytest.fixture
async def anna(instance: Instance) -> str:
    """A person `anna` on `instance`, and a token (all scopes) she got through OAuth."""
    await people(instance, "anna")
    return await token_for(instance, "anna")
