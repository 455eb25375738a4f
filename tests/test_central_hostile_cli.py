"""Issue 10 (10, 12): ``linfen central`` answers a bad file, token or database with one line and exit 2,
never a traceback; an import never reads more than its limit; the files it creates are 0600/0700."""

from __future__ import annotations

import os
import stat

import pytest

from sync.central import importer
from sync.central.cli import main
from sync.central.storage import CentralStore

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


def one_line_exit_2(capsys, argv: list[str], *words: str) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("linfen central: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    for word in words:
        assert word in err, err
    return err


def test_deeply_nested_json_import_is_one_line(tmp_path, capsys):
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 200_000 + "]" * 200_000)
    one_line_exit_2(capsys, ["--db", str(tmp_path / "c.db"), "import", "card", str(deep), "--site", "s"],
                    "nested too deeply")


def test_a_deeply_nested_json_line_is_one_rejected_row(tmp_path, capsys):
    lines = tmp_path / "rows.jsonl"
    lines.write_text('{"card_no": "C1", "status": "active"}\n' + "[" * 200_000 + "]" * 200_000 + "\n")
    assert main(["--db", str(tmp_path / "c.db"), "import", "card", str(lines), "--site", "s"]) == 1
    out = capsys.readouterr().out
    assert "1 accepted, 1 rejected" in out and "rejected row 2: nested too deeply" in out


def test_a_csv_field_over_the_csv_modules_limit_is_one_line(tmp_path, capsys):
    big = tmp_path / "cards.csv"
    big.write_text("card_no,status\nC1,active\nC2," + "x" * (129 * 1024) + "\n", encoding="utf-8")
    one_line_exit_2(capsys, ["--db", str(tmp_path / "c.db"), "import", "card", str(big), "--site", "s"],
                    "line 3", "field larger than field limit")


def test_import_of_a_device_reads_at_most_the_limit(tmp_path, capsys, monkeypatch):
    one_line_exit_2(capsys, ["--db", str(tmp_path / "c.db"), "import", "card", "/dev/zero", "--site", "s"],
                    "use a .csv, .json or .jsonl file")
    zero = tmp_path / "zero.csv"
    zero.symlink_to("/dev/zero")  # a character device reports size 0: only reading tells
    monkeypatch.setattr(importer, "MAX_FILE_BYTES", 1024 * 1024)
    one_line_exit_2(capsys, ["--db", str(tmp_path / "c.db"), "import", "card", str(zero), "--site", "s"],
                    f"larger than {1024 * 1024} bytes")


def test_a_non_utf8_admin_token_file_is_one_line(tmp_path, capsys):
    token = tmp_path / "admin.token"
    token.write_bytes(b"\xff\xfe\x00secret")
    one_line_exit_2(capsys, ["--db", str(tmp_path / "c.db"), "--bind", "127.0.0.1:0", "--admin-token-file",
                             str(token)], "not UTF-8")


def test_postgresql_down_is_one_line(tmp_path, capsys):
    one_line_exit_2(capsys, ["--db", "postgresql://linfen:pw@127.0.0.1:1/linfen", "enrol", "--role", "hall",
                             "--site", "s"], "127.0.0.1", "***")


def test_an_unopenable_sqlite_path_a_directory_or_a_file_that_is_not_a_database_is_one_line(tmp_path, capsys):
    blocker = tmp_path / "plain-file"
    blocker.write_text("x")
    one_line_exit_2(capsys, ["--db", str(blocker / "sub" / "c.db"), "enrol", "--role", "hall", "--site", "s"],
                    "cannot create or open it")
    one_line_exit_2(capsys, ["--db", str(tmp_path), "enrol", "--role", "hall", "--site", "s"], "is a directory")
    junk = tmp_path / "junk.db"
    junk.write_bytes(os.urandom(8192))
    one_line_exit_2(capsys, ["--db", str(junk), "revoke", "hall-01"], "file is not a database")


def test_the_database_its_wal_and_the_directories_created_are_private_whatever_the_umask(tmp_path):
    db = tmp_path / "new" / "deeper" / "central.db"
    old = os.umask(0)
    try:
        store = CentralStore.open(str(db))
        try:
            store.enrol("hall", "s", "hall-01")
            made = [db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")]
            modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in made}
        finally:
            store.close()
    finally:
        os.umask(old)
    assert modes == {p.name: 0o600 for p in made}
    assert stat.S_IMODE(db.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(db.parent.parent.stat().st_mode) == 0o700
