"""The reference-data change feed per site: cursors, paging, compaction, site isolation (both backends)."""

from __future__ import annotations

import pytest

from sync.central.reference import RowChange
from sync.protocol import ChangesResponse

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


def cards(*numbers: int, status: str = "active") -> list[RowChange]:
    return [RowChange(f"C{n:04d}", "upsert", {"card_no": f"C{n:04d}", "status": status}) for n in numbers]


def pull_all(client, limit: int, cursor: int = 0) -> tuple[list[dict], int, int]:
    """Every page after ``cursor``; returns the changes, the final cursor and the number of pages."""
    got, pages = [], 0
    while True:
        r = client.get("/v1/reference/changes", params={"cursor": cursor, "limit": limit})
        assert r.status_code == 200, r.text
        page = ChangesResponse.model_validate(r.json())
        pages += 1
        got += [c.model_dump() for c in page.changes]
        assert page.cursor >= cursor
        cursor = page.cursor
        if not page.more:
            return got, cursor, pages


def test_pages_follow_the_cursor_and_each_site_sees_only_its_own(central):
    a, b = central.enrol("hall-a", site="site-a"), central.enrol("hall-b", site="site-b")
    central.store.apply_reference("site-a", "card", cards(*range(1, 26)))
    central.store.apply_reference("site-b", "card", cards(100, 101))
    with central.client(a) as ca, central.client(b) as cb:
        got, cursor, pages = pull_all(ca, limit=10)
        assert [c["key"] for c in got] == [f"C{n:04d}" for n in range(1, 26)]
        assert [c["cursor"] for c in got] == list(range(1, 26))
        assert (cursor, pages) == (25, 3)
        assert got[0]["data"] == {"card_no": "C0001", "status": "active"} and got[0]["kind"] == "card"
        again, same_cursor, _ = pull_all(ca, limit=10, cursor=cursor)
        assert (again, same_cursor) == ([], 25)
        other, _, _ = pull_all(cb, limit=10)
        assert [c["key"] for c in other] == ["C0100", "C0101"]


def test_a_terminal_behind_gets_each_changed_key_once_with_its_latest_state(central):
    token = central.enrol("hall-a", site="site-a")
    central.store.apply_reference("site-a", "card", cards(1, 2, 3))
    with central.client(token) as c:
        _, cursor, _ = pull_all(c, limit=100)
        central.store.apply_reference("site-a", "card", cards(2, status="lost"))
        central.store.apply_reference("site-a", "card", cards(2, status="blocked") + cards(4))
        central.store.apply_reference("site-a", "card", [RowChange("C0003", "delete")])
        got, _, _ = pull_all(c, limit=2, cursor=cursor)
    assert [(x["key"], x["op"], (x["data"] or {}).get("status")) for x in got] == [
        ("C0002", "upsert", "blocked"), ("C0004", "upsert", "active"), ("C0003", "delete", None)]
    fresh = central.enrol("hall-new", site="site-a")
    with central.client(fresh) as c:
        everything, _, _ = pull_all(c, limit=1000)
    assert sorted(x["key"] for x in everything) == ["C0001", "C0002", "C0003", "C0004"]


def test_unchanged_rows_take_no_cursor_and_replace_deletes_what_the_file_leaves_out(central):
    store = central.store
    first = store.apply_reference("site-a", "card", cards(1, 2, 3))
    assert (first.upserted, first.first_cursor, first.last_cursor) == (3, 1, 3)
    same = store.apply_reference("site-a", "card", cards(1, 2, 3))
    assert (same.upserted, same.unchanged, same.first_cursor) == (0, 3, None)
    replaced = store.apply_reference("site-a", "card", cards(1, 3), replace=True)
    assert (replaced.upserted, replaced.deleted, replaced.unchanged) == (0, 1, 2)
    assert (replaced.first_cursor, replaced.last_cursor) == (4, 4)
    gone = store.apply_reference("site-a", "card", [RowChange("C0002", "delete"), RowChange("C9999", "delete")])
    assert (gone.deleted, gone.unchanged) == (0, 2)


def test_kinds_share_one_cursor_per_site(central):
    token = central.enrol("canteen-a", site="site-a", role="canteen")
    central.store.apply_reference("site-a", "menu", [RowChange("M1", "upsert", {"item_id": "M1", "name": "面条"})])
    central.store.apply_reference("site-a", "card", cards(1))
    with central.client(token) as c:
        got, cursor, _ = pull_all(c, limit=50)
    assert [(x["kind"], x["cursor"]) for x in got] == [("menu", 1), ("card", 2)]
    assert got[0]["data"]["name"] == "面条" and cursor == 2


@pytest.mark.parametrize("params", [{"cursor": -1}, {"limit": 0}, {"limit": 100000}, {"cursor": "x"}])
def test_bad_cursor_or_limit_is_a_422(central, params):
    token = central.enrol("hall-a")
    with central.client(token) as c:
        r = c.get("/v1/reference/changes", params=params)
    assert r.status_code == 422 and r.json()["reason"] == "malformed_request"
