"""The signature time window is configurable (FEDERATIE_SIGNATURE_*), and defaults to Mastodon's."""

from __future__ import annotations

from typing import Any

from harness import people


async def test_the_time_window_follows_the_settings(start_instance: Any, foreign: Any) -> None:
    strict = await start_instance("strict")
    lenient = await start_instance(
        "lenient",
        FEDERATIE_SIGNATURE_CLOCK_SKEW_SECONDS="50400",
        FEDERATIE_SIGNATURE_MAX_AGE_SECONDS="86400",
    )
    mastodon = await foreign("mastodon")
    sender = mastodon.add_actor("sender")
    for instance in (strict, lenient):
        await people(instance, "alice")
    # Signed honestly 2 hours in the future: outside the default hour, inside 14 hours.
    for instance, expected in ((strict, 401), (lenient, 202)):
        follow = mastodon.follow(sender, instance.url("/users/alice"))
        status, _ = await mastodon.deliver(
            sender, instance.url("/inbox"), follow, tamper="date_future"
        )
        assert status == expected
    # Signed 13 hours ago: past the default 12 hours, within 14 hours of skew and a day.
    for instance, expected in ((strict, 401), (lenient, 202)):
        follow = mastodon.follow(sender, instance.url("/users/alice"))
        status, _ = await mastodon.deliver(
            sender, instance.url("/inbox"), follow, tamper="date_old"
        )
        assert status == expected
