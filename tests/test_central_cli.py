"""``linfen central``: enrol, import, revoke (both backends), bind safety, TLS, and the parser the lead wires in."""

from __future__ import annotations

import argparse
import datetime as dt
import ipaddress
import json
import signal
import ssl

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from sync.central.cli import add_parser, main
from sync.central.errors import ApiError, CentralError
from sync.central.server import check_bind, parse_bind
from sync.central.storage import CentralStore
from tests.central_fixtures import central_process, wait_ready

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]

HEX = "0123456789abcdef" * 4


def feed(db: str, site: str) -> list[dict]:
    store = CentralStore.open(db)
    try:
        return json.loads(store.changes_json(site, 0, 1000))["changes"]
    finally:
        store.close()


def test_enrol_prints_credentials_that_authenticate(central_db_url, capsys):
    assert main(["--db", central_db_url, "enrol", "--role", "counter", "--site", "site-a",
                 "--terminal-id", "counter-01"]) == 0
    out, err = capsys.readouterr()
    creds = json.loads(out)
    assert (creds["terminal_id"], creds["role"], creds["site"]) == ("counter-01", "counter", "site-a")
    assert "shown only this once" in err
    store = CentralStore.open(central_db_url)
    try:
        assert store.authenticate(creds["token"]).terminal_id == "counter-01"
    finally:
        store.close()
    assert main(["enrol", "--db", central_db_url, "--role", "hall", "--site", "s", "--terminal-id", "counter-01"]) == 2
    assert "already enrolled" in capsys.readouterr().err


def test_revoke_refuses_the_terminal_from_then_on(central_db_url, capsys):
    main(["--db", central_db_url, "enrol", "--role", "hall", "--site", "s", "--terminal-id", "hall-01"])
    token = json.loads(capsys.readouterr().out)["token"]
    assert main(["--db", central_db_url, "revoke", "hall-01", "--reason", "stolen"]) == 0
    assert "revoked hall-01" in capsys.readouterr().out
    store = CentralStore.open(central_db_url)
    try:
        with pytest.raises(ApiError, match="stolen"):
            store.authenticate(token)
    finally:
        store.close()
    assert main(["--db", central_db_url, "revoke", "nobody"]) == 2
    assert "no terminal 'nobody'" in capsys.readouterr().err


def test_import_csv_accepts_good_rows_and_lists_each_rejected_row_with_its_reason(central_db_url, tmp_path, capsys):
    csv_file = tmp_path / "cards.csv"
    csv_file.write_text("\ufeffcard_no,status,offline_limit_fen,holder\n"
                        "C001,active,2000,张*明\n"
                        "C002,lost,,李*\n"
                        ",active,100,x\n"
                        "C003,melted,100,y\n"
                        "C004,active,lots,z\n"
                        "C001,blocked,0,dup\n", encoding="utf-8")
    assert main(["--db", central_db_url, "import", "card", str(csv_file), "--site", "site-a"]) == 1
    out, err = capsys.readouterr()
    assert "6 rows read, 2 accepted, 4 rejected" in out
    assert "rejected row 3: no card_no" in out
    assert "rejected row 4: status must be active, lost or blocked" in out
    assert "rejected row 5: offline_limit_fen must be a whole number" in out
    assert "rejected row 6: key 'C001' repeats row 1" in out
    assert "6/6 rows" in err  # the progress bar's last state
    rows = feed(central_db_url, "site-a")
    assert [(r["key"], r["data"]) for r in rows] == [
        ("C001", {"card_no": "C001", "status": "active", "offline_limit_fen": 2000, "holder": "张*明"}),
        ("C002", {"card_no": "C002", "status": "lost", "holder": "李*"})]


def test_import_priority_register_document_and_refuse_raw_id_numbers(central_db_url, tmp_path, capsys):
    register = tmp_path / "register.json"
    register.write_text(json.dumps({"format": "linfen-priority-register", "version": 1, "entries": [
        {"h": HEX, "groups": ["veteran"]}, {"h": HEX[::-1], "groups": ["disabled", "special_care"]}]}))
    assert main(["--db", central_db_url, "import", "priority_register", str(register), "--site", "site-a"]) == 0
    assert "2 accepted, 0 rejected" in capsys.readouterr().out
    raw = tmp_path / "raw.jsonl"
    raw.write_text(json.dumps({"h": HEX, "groups": ["veteran"], "id_number": "310101194001011234"}) + "\n"
                   + "{broken\n" + json.dumps({"h": "ABC", "groups": ["veteran"]}) + "\n"
                   + json.dumps({"h": "1" * 64, "groups": ["royalty"]}) + "\n")
    assert main(["--db", central_db_url, "import", "priority_register", str(raw), "--site", "site-a"]) == 1
    out = capsys.readouterr().out
    assert "rejected row 1: field id_number: raw ID numbers are not accepted" in out
    assert "rejected row 2: not JSON" in out
    assert "rejected row 3: h must be a person key" in out
    assert "rejected row 4: unknown groups ['royalty']" in out
    assert "310101194001011234" not in json.dumps(feed(central_db_url, "site-a"))


def test_import_replace_deletes_what_the_file_leaves_out_but_not_when_rows_were_rejected(central_db_url, tmp_path,
                                                                                        capsys):
    first, second, bad = tmp_path / "a.json", tmp_path / "b.json", tmp_path / "c.json"
    first.write_text(json.dumps([{"card_no": "C1", "reason": "lost"}, {"card_no": "C2", "reason": "fraud"}]))
    second.write_text(json.dumps([{"card_no": "C2", "reason": "fraud"}]))
    bad.write_text(json.dumps([{"card_no": "C2"}]))
    assert main(["--db", central_db_url, "import", "blacklist", str(first), "--site", "s"]) == 0
    assert main(["--db", central_db_url, "import", "blacklist", str(bad), "--site", "s", "--replace"]) == 2
    assert "--replace with 1 rejected rows" in capsys.readouterr().err
    assert main(["--db", central_db_url, "import", "blacklist", str(second), "--site", "s", "--replace"]) == 0
    assert "1 deleted, 1 unchanged" in capsys.readouterr().out
    assert [(r["key"], r["op"]) for r in feed(central_db_url, "s")] == [("C2", "upsert"), ("C1", "delete")]


def test_import_of_an_unreadable_file_is_one_line_and_status_2(tmp_path, capsys):
    (tmp_path / "x.xml").write_text("<x/>")
    assert main(["--db", str(tmp_path / "c.db"), "import", "card", str(tmp_path / "x.xml"), "--site", "s"]) == 2
    assert capsys.readouterr().err.strip().count("\n") == 0


@pytest.mark.unit
def test_plain_http_is_refused_off_loopback_unless_insecure_lan(tmp_path, capsys):
    check_bind("127.0.0.1", tls=False, insecure_lan=False)
    check_bind("::1", tls=False, insecure_lan=False)
    check_bind("0.0.0.0", tls=True, insecure_lan=False)
    check_bind("0.0.0.0", tls=False, insecure_lan=True)
    with pytest.raises(CentralError, match="--insecure-lan"):
        check_bind("0.0.0.0", tls=False, insecure_lan=False)
    assert main(["--db", str(tmp_path / "c.db"), "--bind", "0.0.0.0:8720"]) == 2
    assert "refusing plain HTTP on 0.0.0.0" in capsys.readouterr().err
    assert parse_bind("[::1]:80") == ("::1", 80) and parse_bind("127.0.0.1:0") == ("127.0.0.1", 0)
    for bad in ("8720", "host:", "h:99999"):
        with pytest.raises(CentralError):
            parse_bind(bad)


def _self_signed(tmp_path):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "linfen-central-test")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


def test_serves_https_with_the_given_certificate(tmp_path):
    cert_file, key_file = _self_signed(tmp_path)
    proc, url = central_process(str(tmp_path / "c.db"), tmp_path / "central.log", "--tls-cert", str(cert_file),
                                "--tls-key", str(key_file))
    try:
        assert url.startswith("https://127.0.0.1:")
        context = ssl.create_default_context(cafile=str(cert_file))
        wait_ready(url, 1, verify=context)
        health = httpx.get(url + "/health", verify=context, timeout=5)
        assert health.status_code == 200 and health.json()["database"] == "ok"
        with pytest.raises(httpx.HTTPError):
            httpx.get(url.replace("https://", "http://") + "/health", timeout=5)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
    assert proc.returncode == 0


def test_add_parser_plugs_into_a_parent_parser_like_linfens():
    parser = argparse.ArgumentParser(prog="linfen")
    sub = parser.add_subparsers(dest="command", required=True)
    add_parser(sub)
    args = parser.parse_args(["central", "--db", "x.db", "import", "card", "f.csv", "--site", "s"])
    assert (args.command, args.central_command, args.db, args.kind, args.site) == ("central", "import", "x.db",
                                                                                   "card", "s")
    args = parser.parse_args(["central", "enrol", "--db", "y.db", "--role", "hall", "--site", "s"])
    assert (args.db, args.terminal_id) == ("y.db", None)
    args = parser.parse_args(["central", "--bind", "127.0.0.1:9000", "--workers", "2"])
    assert (args.central_command, args.bind, args.workers) == (None, "127.0.0.1:9000", 2)
    assert callable(args.func)
