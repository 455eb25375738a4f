"""``linfen central timebank``: the operator's commands on the central's machine, through the real parser."""

from __future__ import annotations

import io
import json

import pytest
from sqlalchemy import select

from sync.central.cli import main
from sync.central.db import read_transaction
from sync.central.storage import CentralStore
from sync.central.timebank.policy import DEFAULT_POLICY_FILE
from sync.central.timebank.schema import tb_audit, tb_policies, tb_staff
from sync.central.timebank.staff import check_staff_password

pytestmark = pytest.mark.unit


def run(db: str, *argv: str, stdin: str = "", monkeypatch: pytest.MonkeyPatch, capsys) -> tuple[int, str, str]:
    """One command; returns (status, stdout, stderr)."""
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    status = main(["--db", db, "timebank", *argv])
    out = capsys.readouterr()
    return status, out.out, out.err


def test_an_operator_sets_up_the_time_bank_from_the_command_line(tmp_path, monkeypatch, capsys):
    db = str(tmp_path / "central.db")
    status, out, _ = run(db, "policy", str(DEFAULT_POLICY_FILE), monkeypatch=monkeypatch, capsys=capsys)
    assert status == 0 and "shanghai-2026" in out
    assert run(db, "policy", str(DEFAULT_POLICY_FILE), monkeypatch=monkeypatch, capsys=capsys)[0] == 0  # same again
    status, out, err = run(db, "staff", "admin01", "--name", "街道 管理员", "--role", "admin",
                         stdin="a-long-enough-password\n", monkeypatch=monkeypatch, capsys=capsys)
    assert status == 0 and "admin01" in out, err
    status, _, err = run(db, "staff", "short01", "--name", "x", "--role", "organiser", stdin="short\n",
                         monkeypatch=monkeypatch, capsys=capsys)
    assert status == 2 and err.startswith("linfen central: ")
    status, out, _ = run(db, "ledger-check", monkeypatch=monkeypatch, capsys=capsys)
    assert status == 0 and json.loads(out)["total_cc"] == 0
    for command, words in (("close-forgotten", "closed 0"), ("close-votes", "chosen projects: none"),
                           ("publish-roster", "roster rows changed: 0")):
        status, out, _ = run(db, command, monkeypatch=monkeypatch, capsys=capsys)
        assert status == 0 and words in out, (command, out)
    svg = tmp_path / "join.svg"
    status, out, _ = run(db, "join-link", "临汾一村", "--base-url", "https://tb.example.org/", "--svg", str(svg),
                         monkeypatch=monkeypatch, capsys=capsys)
    assert status == 0 and "https://tb.example.org/tb/join?c=%E4%B8%B4%E6%B1%BE%E4%B8%80%E6%9D%91" in out
    assert svg.read_text(encoding="utf-8").lstrip().startswith(("<?xml", "<svg"))
    store = CentralStore.open(db)
    try:
        with read_transaction(store.engine) as conn:
            assert conn.execute(select(tb_policies.c.version)).scalars().all() == ["shanghai-2026"]
            assert conn.execute(select(tb_staff.c.login, tb_staff.c.role)).all() == [("admin01", "admin")]
            assert check_staff_password(conn, "admin01", "a-long-enough-password") is not None
            actions = conn.execute(select(tb_audit.c.actor, tb_audit.c.action)).all()
            assert actions == [("admin", "policy_import"), ("admin", "staff_add")]  # the same policy twice: once
    finally:
        store.close()


def test_bad_input_gets_one_worded_line(tmp_path, monkeypatch, capsys):
    db = str(tmp_path / "central.db")
    bad = tmp_path / "policy.json"
    bad.write_text("{not json", encoding="utf-8")
    for argv in (("policy", str(bad)), ("policy", str(tmp_path / "missing.json")), ("staff",),
                 ("join-link", "临汾一村", "--base-url", "ftp://x"), ("join-link", "临汾一村")):
        status, out, err = run(db, *argv, stdin="a-long-enough-password\n", monkeypatch=monkeypatch, capsys=capsys)
        assert status == 2 and err.startswith("linfen central: ") and "Traceback" not in err, (argv, err)
        assert len(err.strip().splitlines()) == 1
