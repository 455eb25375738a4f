"""One-time codes (sync/central/timebank/otp.py) on both backends: limits, expiry, tries, hash only.

Times are passed in explicitly; the log gateway's file gives the code that was "sent".
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import select

from sync.central.db import write_transaction
from sync.central.errors import CentralError
from sync.central.storage import CentralStore
from sync.central.timebank import otp
from sync.central.timebank.schema import tb_audit, tb_otps
from sync.central.timebank.sms import LogSms, SmsError
from tests.web_support import sms_code

PHONE = "13812345678"
T0 = dt.datetime(2026, 3, 2, 2, 0, tzinfo=dt.UTC)  # 10:00 Shanghai


def at(seconds: float) -> str:
    return (T0 + dt.timedelta(seconds=seconds)).isoformat()


@pytest.fixture
def store(central_db_url):
    s = CentralStore.open(central_db_url)
    yield s
    s.close()


@pytest.fixture
def sms(tmp_path):
    return LogSms(tmp_path / "sms.jsonl")


def send(store, sms, when: float, phone: str = PHONE) -> None:
    with write_transaction(store.engine) as conn:
        otp.send_code(conn, sms, phone, at(when))


def verify(store, code: str, when: float, phone: str = PHONE) -> bool:
    with write_transaction(store.engine) as conn:
        return otp.verify_code(conn, phone, code, at(when))


def test_phone_numbers_are_cleaned_or_refused_in_words():
    assert otp.clean_phone(" 138-1234 5678 ") == PHONE
    assert otp.clean_phone("+8613812345678") == PHONE
    assert otp.clean_phone("１３８１２３４５６７８") == PHONE  # full-width digits from a Chinese keyboard
    for bad in ("", "1381234567", "23812345678", "138123456789", "1381234567a"):
        with pytest.raises(CentralError, match="11 位手机号码") as caught:
            otp.clean_phone(bad)
        assert caught.value.reason == "bad_phone"


def test_a_sent_code_signs_in_once_and_only_its_hash_is_kept(store, sms, tmp_path):
    send(store, sms, 0, "138 1234 5678")
    code = sms_code(tmp_path / "sms.jsonl", PHONE)
    with write_transaction(store.engine) as conn:
        row = conn.execute(select(tb_otps)).one()
        audit_rows = conn.execute(select(tb_audit.c.detail).where(tb_audit.c.action == "otp_send")).all()
        key = otp.phone_key(conn, PHONE)
    assert row.phone_key == key and len(key) == 64
    assert code not in json.dumps(dict(row._mapping)) and PHONE not in json.dumps(dict(row._mapping))
    assert PHONE not in audit_rows[0].detail and "138****5678" in audit_rows[0].detail
    assert verify(store, code, 30)
    with pytest.raises(CentralError, match="只能用一次") as caught:
        verify(store, code, 31)  # a used code never works again
    assert caught.value.reason == "otp_none"


def test_expiry_after_five_minutes(store, sms, tmp_path):
    send(store, sms, 0)
    code = sms_code(tmp_path / "sms.jsonl", PHONE)
    with pytest.raises(CentralError, match="已过期") as caught:
        verify(store, code, 300)
    assert caught.value.reason == "otp_expired"


def test_five_wrong_tries_then_a_new_code_is_needed(store, sms, tmp_path):
    send(store, sms, 0)
    code = sms_code(tmp_path / "sms.jsonl", PHONE)
    wrong = f"{(int(code) + 1) % 1000000:06d}"
    assert [verify(store, wrong, i) for i in range(5)] == [False] * 5
    with pytest.raises(CentralError, match="输错 5 次") as caught:
        verify(store, code, 10)  # even the right code: the tries are used up
    assert caught.value.reason == "otp_locked"
    send(store, sms, 61)
    assert verify(store, sms_code(tmp_path / "sms.jsonl", PHONE), 62)


def test_one_send_per_minute_and_five_a_day(store, sms, tmp_path):
    send(store, sms, 0)
    with pytest.raises(CentralError, match="请 60 秒后再获取验证码") as caught:
        send(store, sms, 59)
    assert caught.value.reason == "otp_too_soon"
    for i in range(1, 5):
        send(store, sms, 60 * i)
    with pytest.raises(CentralError, match="今天已经获取了 5 次") as caught:
        send(store, sms, 3600)
    assert caught.value.reason == "otp_daily_limit"
    send(store, sms, 16 * 3600)  # 02:00 next day in Shanghai: a new day's five
    assert len((tmp_path / "sms.jsonl").read_text().splitlines()) == 6
    send(store, sms, 3600, phone="13900000000")  # another phone has its own limits


class BrokenSms:
    def send(self, phone: str, text: str) -> None:
        raise SmsError("the SMS gateway answered 500")


def test_a_failed_send_keeps_nothing(store, sms):
    with pytest.raises(SmsError):
        send(store, BrokenSms(), 0)
    with write_transaction(store.engine) as conn:
        assert conn.execute(select(tb_otps)).first() is None
    send(store, sms, 1)  # not counted as a send: no 60 s wait


def test_no_code_sent_and_malformed_codes(store, sms, tmp_path):
    with pytest.raises(CentralError, match="请先获取验证码"):
        verify(store, "123456", 0)
    send(store, sms, 0)
    assert not verify(store, "12a456", 1)
    assert not verify(store, "", 2)
    assert verify(store, sms_code(tmp_path / "sms.jsonl", PHONE), 3)
