"""Issue 10, end to end: an import mixing good rows with ``NaN``, ``Infinity``, lone surrogates, raw ID
numbers and unmasked names accepts the good rows, names every bad row with its reason, and a
terminal pulling afterwards holds exactly the good rows (a real central on loopback, a real store)."""

from __future__ import annotations

import json

import pytest

from drivers.idcard.fields import check_digit
from kiosk.store import Store
from sync import apply
from sync.central.cli import main
from sync.client import SyncClient, SyncSettings
from tests.sync_support import CentralHarness

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]

SITE = "linfen-road"
ID17 = "31010119400101123"
RAW_ID = ID17 + check_digit(ID17)

GOOD = [
    {"card_no": "C001", "status": "active", "holder": "张*明", "offline_limit_fen": 2000},
    {"card_no": "C002", "status": "lost", "holder_name": "欧**明"},
    {"card_no": "C003", "status": "blocked", "extra": {"note": "挂失 2025-03-01", "masked_id": "310***********1234"}},
]
#: (JSON line, words its rejection must hold)
BAD = [
    ('{"card_no": "C010", "status": "active", "offline_limit_fen": NaN}', "field offline_limit_fen: not strict JSON"),
    ('{"card_no": "C011", "status": "active", "extra": {"limit": Infinity}}', "field extra.limit: not strict JSON"),
    ('{"card_no": "C012", "status": "active", "extra": {"rate": 1e400}}', "non_finite_number"),
    ('{"card_no": "C013", "status": "active", "holder": "\\ud800"}', "field holder: not strict JSON (lone_surrogate)"),
    ('{"card_no": "C014", "status": "active", "\\udfff": 1}', "lone_surrogate"),
    (json.dumps({"card_no": RAW_ID, "status": "active"}), "field card_no: holds a raw ID number"),
    (json.dumps({"card_no": "C015", "status": "active", "ID_NUMBER": "x"}), "field ID_NUMBER: raw ID numbers"),
    (json.dumps({"card_no": "C016", "status": "active", "extra": {"idNumber": "x"}}), "field extra.idNumber"),
    (json.dumps({"card_no": "C017", "status": "active", "sfz": "x"}), "field sfz"),
    (json.dumps({"card_no": "C018", "status": "active", "holder_id": "x"}), "field holder_id"),
    (json.dumps({"card_no": "C019", "status": "active", "note": f"证件 {RAW_ID}"}), "field note: holds a raw ID"),
    (json.dumps({"card_no": "C020", "status": "active", "name": "张三丰"}), "field name: an unmasked name"),
    (json.dumps({"card_no": "C021", "status": "active", "姓名": "李四"}), "field 姓名: an unmasked name"),
]


@pytest.fixture
def central(tmp_path):
    harness = CentralHarness(tmp_path / "central.db")
    harness.start()
    yield harness
    harness.stop()


def test_a_mixed_import_keeps_the_good_rows_names_each_bad_one_and_a_terminal_pulls_only_the_good(
        tmp_path, central, capsys):
    lines = [json.dumps(GOOD[0], ensure_ascii=False), BAD[0][0], BAD[1][0], json.dumps(GOOD[1], ensure_ascii=False)]
    lines += [b for b, _ in BAD[2:]] + [json.dumps(GOOD[2], ensure_ascii=False)]
    data = tmp_path / "cards.jsonl"
    data.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert main(["--db", central.db, "import", "card", str(data), "--site", SITE]) == 1
    out = capsys.readouterr().out
    assert f"{len(lines)} rows read, 3 accepted, {len(BAD)} rejected" in out
    bad_rows = [n for n, line in enumerate(lines, 1) if line in {b for b, _ in BAD}]
    for row, (_, words) in zip(bad_rows, BAD, strict=True):
        [said] = [x for x in out.splitlines() if x.strip().startswith(f"rejected row {row}:")]
        assert words in said, said
    assert RAW_ID not in out  # the refusal names the field, it does not repeat the number

    token = central.enrol("hall-01", SITE)
    store = Store.open(tmp_path / "hall-01.db", "hall-01", extra_migrations=[apply.MIGRATIONS])
    client = SyncClient(store, central.url, token, settings=SyncSettings(connect_timeout_s=2.0))
    try:
        assert client.pull_changes() == 3
        assert client.status().reference_rejected == 0
        held = {key: apply.reference_get(store, "card", key) for key in ("C001", "C002", "C003")}
        assert held == {row["card_no"]: row for row in GOOD}
        assert apply.reference_count(store) == 3
    finally:
        client.stop()
        store.close()


def test_a_json_document_with_nan_rows_rejects_those_rows_only(tmp_path, central, capsys):
    data = tmp_path / "blacklist.json"
    data.write_text('{"entries": [{"card_no": "B1", "reason": "lost"}, {"card_no": "B2", "reason": NaN}, '
                    '{"card_no": "B3", "reason": "fraud", "holder": "王*"}]}', encoding="utf-8")
    assert main(["--db", central.db, "import", "blacklist", str(data), "--site", SITE]) == 1
    out = capsys.readouterr().out
    assert "3 rows read, 2 accepted, 1 rejected" in out and "rejected row 2: field reason: not strict JSON" in out
    token = central.enrol("hall-02", SITE)
    store = Store.open(tmp_path / "hall-02.db", "hall-02", extra_migrations=[apply.MIGRATIONS])
    client = SyncClient(store, central.url, token)
    try:
        assert client.pull_changes() == 2
        assert apply.reference_get(store, "blacklist", "B3") == {"card_no": "B3", "reason": "fraud", "holder": "王*"}
    finally:
        client.stop()
        store.close()
