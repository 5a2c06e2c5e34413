"""The hourly housekeeping job: expired sessions, stale rate-limit windows and media no status
took go, one chain of jobs however often workers start."""

from __future__ import annotations

from typing import Any

import aiohttp
from files_support import jpeg_with_gps
from harness import Instance, people, value
from mastodon_support import call


async def test_housekeeping_removes_expired_rows_and_schedules_one_next_run(
    instance: Instance,
) -> None:
    await people(instance, "anna")
    runtime = instance.runtime
    async with runtime.pool.acquire() as conn:
        person_id = await conn.fetchval("SELECT id FROM actors WHERE username = 'anna'")
        await conn.execute(
            """INSERT INTO web_sessions (token_sha256, person_id, expires_at) VALUES
               ('\\x01', $1, now() - interval '1 minute'),
               ('\\x02', $1, now() + interval '1 day')""",
            person_id,
        )
        await conn.execute(
            """INSERT INTO rate_limits VALUES ('old', now() - interval '2 days', 3),
                                              ('new', now(), 1)"""
        )
    await runtime.housekeeping.schedule()
    await runtime.housekeeping.schedule()  # a second worker starting: no second chain
    assert await value(instance, "SELECT count(*) FROM jobs WHERE kind = 'housekeeping'") == 1
    await instance.drain()
    assert await value(instance, "SELECT count(*) FROM web_sessions") == 1
    assert await value(instance, "SELECT array_agg(bucket) FROM rate_limits") == ["new"]
    pending = await value(
        instance,
        """SELECT count(*) FROM jobs WHERE kind = 'housekeeping'
           AND run_at > now() + interval '50 minutes'""",
    )
    assert pending == 1


async def test_media_no_status_took_within_a_day_is_removed_with_its_blob(
    instance: Instance,
) -> None:
    """Uploaded through the client API and never posted: gone after a day, bytes too. Media
    of a status and fresh uploads stay, and so does a blob another upload still uses."""
    await people(instance, "anna")
    token = await instance.runtime.actors.issue_token("anna", "read write follow push")

    async def upload(image: bytes) -> dict[str, Any]:
        form = aiohttp.FormData()
        form.add_field("file", image, filename="foto.jpg", content_type="image/jpeg")
        answer = await call(instance, "POST", "/api/v2/media", token=token, data=form)
        assert answer.status == 200, answer.body
        return dict(answer.body)

    stale, fresh, posted = (
        await upload(jpeg_with_gps(64, 48)),
        await upload(jpeg_with_gps(64, 48)),  # the same bytes: one blob for both
        await upload(jpeg_with_gps(80, 60)),
    )
    status = await call(
        instance,
        "POST",
        "/api/v1/statuses",
        token=token,
        json={"status": "Kijk", "media_ids": [posted["id"]]},
    )
    assert status.status == 200, status.body
    alone = await upload(jpeg_with_gps(32, 24))
    await instance.runtime.pool.execute(
        """UPDATE media_attachments SET created_at = now() - interval '25 hours'
           WHERE id = ANY($1::bigint[])""",
        [int(stale["id"]), int(posted["id"]), int(alone["id"])],
    )
    digest = "SELECT sha256 FROM media_attachments WHERE id = $1"
    shared, only = (
        await value(instance, digest, int(stale["id"])),
        await value(instance, digest, int(alone["id"])),
    )
    await instance.runtime.housekeeping.schedule()
    await instance.drain()

    left = await value(instance, "SELECT array_agg(id ORDER BY id) FROM media_attachments")
    assert left == sorted([int(fresh["id"]), int(posted["id"])])
    blobs = instance.runtime.files.blobs
    assert await blobs.exists(shared)  # the fresh upload still uses it
    assert not await blobs.exists(only)
    async with aiohttp.ClientSession() as session, session.get(alone["url"]) as response:
        assert response.status == 404
