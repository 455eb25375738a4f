"""The ``policy`` kind and the extended ``card`` kind (docs/community-card.md §2), end to end.

Imported through the real central importer (``linfen central import``, in-process), served by a real
central on loopback, pulled by the real sync client into a terminal's store, and read back through
:class:`kiosk.reference.ReferenceData`: the pulled Putuo policy prices a pulled card holder's meal.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from pathlib import Path

import pytest

from kiosk.canteen.policy import POLICY_DIR, load_policy, policy_in_force
from kiosk.canteen.pricing import Holder, quote
from kiosk.reference import CardEntry, ReferenceData
from kiosk.store import Store
from sync import apply
from sync.central.cli import main
from sync.central.importer import check_row
from sync.central.storage import CentralStore
from sync.client import SyncClient, SyncSettings
from sync.pii import find_pii
from sync.protocol import Change, ChangesResponse
from tests.sync_support import CentralHarness

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

SITE = "linfen-road"
PUTUO_FILE = POLICY_DIR / "putuo-canteen-2025-12.json"
HEX = "0123456789abcdef" * 4
FAST = SyncSettings(idle_interval_s=0.05, backoff_base_s=0.05, backoff_cap_s=0.5, connect_timeout_s=2.0,
                    read_timeout_s=10.0, write_timeout_s=10.0, pool_timeout_s=2.0)


def putuo_doc() -> dict:
    return json.loads(PUTUO_FILE.read_text(encoding="utf-8"))


def feed(db: str, site: str = SITE) -> list[dict]:
    store = CentralStore.open(db)
    try:
        return json.loads(store.changes_json(site, 0, 1000))["changes"]
    finally:
        store.close()


def run_import(db: str, kind: str, path: Path, capsys) -> tuple[int, str]:
    status = main(["--db", db, "import", kind, str(path), "--site", SITE])
    return status, capsys.readouterr().out


def rejected(out: str, row: int) -> str:
    [line] = [x for x in out.splitlines() if x.strip().startswith(f"rejected row {row}:")]
    return line


@pytest.fixture
def central(tmp_path):
    harness = CentralHarness(tmp_path / "central.db")
    harness.start()
    yield harness
    harness.stop()


# -- the importer: policy ------------------------------------------------------------------------------


def test_the_shipped_policy_file_imports_as_one_row_keyed_by_id_and_version(tmp_path, capsys):
    db = str(tmp_path / "central.db")
    status, out = run_import(db, "policy", PUTUO_FILE, capsys)
    assert status == 0, out
    assert "1 rows read, 1 accepted, 0 rejected" in out
    [row] = feed(db)
    assert (row["kind"], row["key"], row["op"]) == ("policy", "putuo-canteen:1", "upsert")
    assert row["data"] == putuo_doc()
    again = tmp_path / "again.json"
    doc = putuo_doc()
    del doc["key"]  # the key is made from policy_id:version when the document has none
    again.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    status, out = run_import(db, "policy", again, capsys)
    assert status == 0 and "1 unchanged" in out, out


def test_policy_rows_are_checked_with_the_terminals_rules_and_named_by_field(tmp_path, capsys):
    good2 = {**putuo_doc(), "key": "putuo-canteen:2", "version": 2, "valid_from": "2026-03-01"}
    bad_percent = putuo_doc()
    bad_percent.update(key="putuo-canteen:3", version=3)
    bad_percent["rules"]["discounts"][0]["percent_off"] = 120
    bad_key = {**putuo_doc(), "key": "putuo-canteen:9"}
    person = putuo_doc()
    person.update(key="putuo-canteen:4", version=4)
    person["rules"]["contact"] = {"name": "陈秀英"}
    float_money = putuo_doc()
    float_money.update(key="putuo-canteen:5", version=5)
    float_money["rules"]["subsidy_tiers"][0]["amount_fen"] = 5.0
    no_id = {k: v for k, v in putuo_doc().items() if k not in ("policy_id", "key")}
    text_version = {**putuo_doc(), "key": "putuo-canteen:6", "version": "6"}
    rows = [putuo_doc(), good2, bad_percent, bad_key, person, float_money, no_id, text_version]
    path = tmp_path / "policies.jsonl"
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    db = str(tmp_path / "central.db")
    status, out = run_import(db, "policy", path, capsys)
    assert status == 1
    assert "8 rows read, 2 accepted, 6 rejected" in out
    assert "field rules.discounts[0].percent_off: must be 0-100, not 120" in rejected(out, 3)
    assert "field key: must be policy_id:version (putuo-canteen:1)" in rejected(out, 4)
    assert "field rules.contact.name: an unmasked name" in rejected(out, 5)  # the PII gate comes first
    assert "field rules.subsidy_tiers[0].amount_fen: must be a whole number" in rejected(out, 6)
    assert "no key" in rejected(out, 7)
    assert "version must be a whole number" in rejected(out, 8)
    assert [r["key"] for r in feed(db)] == ["putuo-canteen:1", "putuo-canteen:2"]
    assert "陈秀英" not in json.dumps(feed(db), ensure_ascii=False)


def test_a_policy_is_deleted_by_its_key():
    change = check_row("policy", {"op": "delete", "key": "putuo-canteen:1"}, from_csv=False)
    assert (change.key, change.op) == ("putuo-canteen:1", "delete")
    derived = check_row("policy", {"op": "delete", "policy_id": "putuo-canteen", "version": 1}, from_csv=False)
    assert derived.key == "putuo-canteen:1"


# -- the importer: extended card rows -------------------------------------------------------------------


def test_extended_card_rows_from_csv(tmp_path, capsys):
    path = tmp_path / "cards.csv"
    path.write_text(
        "\ufeffcard_no,status,h,masked_name,birth_year,groups,dibao,hukou,offline_limit_fen\n"
        f"04A1B2C3,active,{HEX},陈*英,1941,special_care; home_care,是,local,3000\n"   # 1
        "04A1B2C4,cancelled,,欧**明,1958,,false,other,\n"                            # 2
        "04A1B2C5,active,,陈秀英,1941,,true,local,\n"                                # 3 unmasked name
        "04A1B2C6,active,,王*,19x5,,true,local,\n"                                   # 4
        "04A1B2C7,active,,王*,1950,,maybe,local,\n"                                  # 5
        "04A1B2C8,active,,王*,1950,,no,abroad,\n"                                    # 6
        "04A1B2C9,active,ABC,王*,1950,,no,local,\n"                                  # 7
        "04A1B2CA,active,,王*,1950,Special Care,no,local,\n"                         # 8
        "04A1B2CB,active,,王*,1850,,no,local,\n"                                     # 9
        "04A1B2CC,melted,,王*,1950,,no,local,\n"                                     # 10
        "04A1B2CD,active,,陈英,1950,,no,local,\n",                                   # 11 a name with no *
        encoding="utf-8")
    db = str(tmp_path / "central.db")
    status, out = run_import(db, "card", path, capsys)
    assert status == 1
    assert "11 rows read, 2 accepted, 9 rejected" in out
    assert "field masked_name: an unmasked name" in rejected(out, 3)
    assert "birth_year must be a whole number" in rejected(out, 4)
    assert "dibao must be true or false" in rejected(out, 5)
    assert "hukou must be local or other" in rejected(out, 6)
    assert "h must be a person key" in rejected(out, 7)
    assert "groups must be names" in rejected(out, 8)
    assert "birth_year must be 1900-2100" in rejected(out, 9)
    assert "status must be active, lost or blocked (a card in use) or cancelled" in rejected(out, 10)
    assert "masked_name" in rejected(out, 11)
    rows = {r["key"]: r["data"] for r in feed(db)}
    assert rows == {
        "04A1B2C3": {"card_no": "04A1B2C3", "status": "active", "h": HEX, "masked_name": "陈*英", "birth_year": 1941,
                     "groups": ["special_care", "home_care"], "dibao": True, "hukou": "local",
                     "offline_limit_fen": 3000},
        "04A1B2C4": {"card_no": "04A1B2C4", "status": "cancelled", "masked_name": "欧**明", "birth_year": 1958,
                     "dibao": False, "hukou": "other"},
    }


def test_extended_card_rows_from_json_keep_types_strict(tmp_path, capsys):
    rows = [
        {"card_no": "C1", "status": "active", "birth_year": 1944, "groups": ["white_collar"], "dibao": False},
        {"card_no": "C2", "status": "active", "dibao": "true"},       # JSON text is not a boolean
        {"card_no": "C3", "status": "active", "birth_year": "1944"},  # nor a number
        {"card_no": "C4", "status": "active", "groups": "special_care"},
        {"card_no": "C5", "status": "active", "dibao": 1},
        {"card_no": "C6", "status": "active", "masked_name": "Chen Xiuying"},  # not CJK, still not masked
    ]
    path = tmp_path / "cards.json"
    path.write_text(json.dumps(rows), encoding="utf-8")
    db = str(tmp_path / "central.db")
    status, out = run_import(db, "card", path, capsys)
    assert status == 1 and "6 rows read, 1 accepted, 5 rejected" in out
    assert "masked_name must be a masked name" in rejected(out, 6)
    assert "dibao must be true or false" in rejected(out, 2) and "dibao must be true or false" in rejected(out, 5)
    assert "birth_year must be a whole number" in rejected(out, 3)
    assert "groups must be a list" in rejected(out, 4)


def test_the_pii_gate_passes_a_masked_name_and_refuses_a_full_one_in_masked_name():
    assert find_pii({"card_no": "C1", "masked_name": "陈*英"}) is None
    assert find_pii({"card_no": "C1", "masked_name": "欧**明"}) is None
    finding = find_pii({"card_no": "C1", "masked_name": "陈秀英"})
    assert finding is not None and finding.path == "masked_name" and "unmasked name" in finding.reason
    nested = find_pii({"cards": [{"masked_name": "李四"}]})
    assert nested is not None and nested.path == "cards[0].masked_name"


# -- the round trip: import → central feed → a terminal's store → ReferenceData ---------------------------


def pulled_store(tmp_path: Path, central: CentralHarness) -> tuple[Store, SyncClient]:
    store = Store.open(tmp_path / "canteen-01.db", "canteen-01", extra_migrations=[apply.MIGRATIONS])
    client = SyncClient(store, central.url, central.enrol("canteen-01", SITE, role="canteen"), settings=FAST)
    return store, client


def test_an_imported_policy_and_card_reach_a_terminal_and_price_a_meal(tmp_path, central, capsys):
    status, out = run_import(central.db, "policy", PUTUO_FILE, capsys)
    assert status == 0, out
    cards = tmp_path / "cards.jsonl"
    cards.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in [
        {"card_no": "04A1B2C3", "status": "active", "h": HEX, "masked_name": "陈*英", "birth_year": 1940,
         "groups": ["special_care"], "dibao": True, "hukou": "local"},
        {"card_no": "04A1B2C4", "status": "cancelled", "masked_name": "王*", "birth_year": 1950},
    ]) + "\n", encoding="utf-8")
    status, out = run_import(central.db, "card", cards, capsys)
    assert status == 0, out

    store, client = pulled_store(tmp_path, central)
    ref = ReferenceData(store, watch=False)
    try:
        assert ref.policies() is None and ref.cards() is None
        assert client.pull_changes() == 3
        assert client.status().reference_rejected == 0
        policies = ref.policies()
        assert policies == (load_policy(PUTUO_FILE),)
        assert ref.version("policy") > 0
        putuo = policy_in_force(policies, dt.date(2025, 12, 3))
        assert putuo is not None and putuo.key == "putuo-canteen:1"
        assert policy_in_force(policies, dt.date(2025, 11, 30)) is None

        held = ref.cards()
        assert held is not None
        chen = held["04A1B2C3"]
        assert chen == CardEntry("04A1B2C3", "active", None, h=HEX, masked_name="陈*英", birth_year=1940,
                                 groups=("special_care",), dibao=True, hukou="local")
        assert chen.usable and not held["04A1B2C4"].usable and held["04A1B2C4"].status == "cancelled"
        assert (held["04A1B2C4"].groups, held["04A1B2C4"].dibao, held["04A1B2C4"].hukou) == ((), False, None)

        # 85 in 2025, special care (20 % beats 15 %), 低保: 30 元 − 6 元 − 5 元
        q = quote([("S1", "红烧肉套餐", "Braised pork set", 3000, 1)], Holder.from_card(chen), dt.date(2025, 12, 3),
                  putuo, subsidy_used_today=False)
        assert (q.discount_fen, q.subsidy_fen, q.subsidy_tier, q.paid_fen, q.policy) == (
            600, 500, "dibao-60", 1900, "putuo-canteen:1")
        assert [line.zh for line in q.lines] == ["合计 30 元", "特殊关爱对象 8 折 −6 元", "今日补贴 −5 元", "应付 19 元"]

        # a new version is an import, not a release: v2 from 2026-01-01 takes over from that day
        v2 = {**putuo_doc(), "key": "putuo-canteen:2", "version": 2, "valid_from": "2026-01-01"}
        v2["rules"]["subsidy_tiers"][1]["amount_fen"] = 400
        path = tmp_path / "v2.json"
        path.write_text(json.dumps(v2, ensure_ascii=False), encoding="utf-8")
        assert run_import(central.db, "policy", path, capsys)[0] == 0
        client.pull_changes()
        policies = ref.policies()
        assert policies is not None and [p.key for p in policies] == ["putuo-canteen:1", "putuo-canteen:2"]
        assert policy_in_force(policies, dt.date(2025, 12, 31)).version == 1
        later = policy_in_force(policies, dt.date(2026, 1, 1))
        assert later.version == 2 and later.subsidy_tiers[1].amount_fen == 400
    finally:
        client.stop()
        ref.close()
        store.close()


def test_a_malformed_pulled_policy_keeps_the_previous_good_view(tmp_path, central, caplog):
    store, client = pulled_store(tmp_path, central)
    ref = ReferenceData(store, watch=False)
    try:
        doc = putuo_doc()
        central.load(SITE, "policy", [("putuo-canteen:1", doc)])
        client.pull_changes()
        good = ref.policies()
        assert good is not None and good[0].key == "putuo-canteen:1"

        # The central's storage takes rows its importer would refuse; the terminal must not trust them.
        broken = {**putuo_doc(), "key": "putuo-canteen:2", "version": 2}
        broken["rules"]["subsidy_tiers"][0]["amount_fen"] = -500
        central.load(SITE, "policy", [("putuo-canteen:2", broken)])
        with caplog.at_level(logging.ERROR, logger="kiosk.reference"):
            client.pull_changes()
            assert ref.policies() == good
            assert ref.policies() == good
        refused = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
        assert len(refused) == 1, "logged once per version, not per read"
        assert "policy" in refused[0] and "keeping the previous data" in refused[0]
        assert "rules.subsidy_tiers[0].amount_fen" in refused[0]

        mismatched = {**putuo_doc(), "key": "putuo-canteen:3", "version": 3}
        central.load(SITE, "policy", [("putuo-canteen:2", None), ("putuo-canteen:3", {**mismatched, "key": "x"})])
        caplog.clear()
        with caplog.at_level(logging.ERROR, logger="kiosk.reference"):
            client.pull_changes()
            assert ref.policies() == good
        assert any("does not match its key" in r.getMessage() for r in caplog.records)

        central.load(SITE, "policy", [("putuo-canteen:3", mismatched)])
        client.pull_changes()
        fixed = ref.policies()
        assert fixed is not None and [p.key for p in fixed] == ["putuo-canteen:1", "putuo-canteen:3"]
    finally:
        client.stop()
        ref.close()
        store.close()


def test_malformed_pulled_card_holder_fields_keep_the_previous_cards(tmp_path, caplog):
    store = Store.open(tmp_path / "t.db", "t", extra_migrations=[apply.MIGRATIONS])
    ref = ReferenceData(store, watch=False)
    try:
        def page(start: int, data: dict):
            change = Change(cursor=start + 1, kind="card", key=data["card_no"], op="upsert", data=data)
            return ChangesResponse(changes=[change], cursor=start + 1, more=False)

        apply.apply_page(store, page(0, {"card_no": "C1", "status": "cancelled", "birth_year": 1950,
                                         "groups": ["home_care"], "dibao": False}), 0)
        first = ref.cards()
        assert first is not None and first["C1"].status == "cancelled" and not first["C1"].usable
        assert first["C1"].groups == ("home_care",)
        for n, bad in enumerate([{"groups": "home_care"}, {"dibao": "yes"}, {"hukou": "mars"},
                                 {"birth_year": "1950"}, {"masked_name": 7}, {"status": "stolen"}], start=1):
            caplog.clear()
            with caplog.at_level(logging.ERROR, logger="kiosk.reference"):
                apply.apply_page(store, page(n, {"card_no": "C2", "status": "active", **bad}), n)
                assert ref.cards() == first, bad
            assert any("card 'C2'" in r.getMessage() for r in caplog.records), bad
    finally:
        ref.close()
        store.close()
