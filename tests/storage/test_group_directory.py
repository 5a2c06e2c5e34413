"""The group directory's text search takes `%`, `_` and `\\` literally."""

from __future__ import annotations

from harness import Instance, people

from federatie.storage import actors as sql


async def test_search_text_is_taken_literally(instance: Instance) -> None:
    await people(instance, "owner")
    for name, title in (("water_beheer", "Water 100% schoon"), ("waterbeheer", "Water")):
        await instance.runtime.actors.create_group(name, owner="owner", title=title)

    async def found(query: str) -> list[str]:
        async with instance.runtime.pool.acquire() as conn:
            groups = await sql.select_group_directory(
                conn, query=query, theme=None, after=None, limit=10
            )
        return [group.username for group in groups]

    assert await found("r_b") == ["water_beheer"]  # `_` is not "any one character"
    assert await found("100%") == ["water_beheer"]
    assert await found("0% s") == ["water_beheer"]
    assert await found("r%b") == []
    assert await found("water") == ["water_beheer", "waterbeheer"]
