"""The hourly housekeeping job: expired sessions and stale rate-limit windows go, one chain
of jobs however often workers start."""

from __future__ import annotations

from harness import Instance, people, value


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
