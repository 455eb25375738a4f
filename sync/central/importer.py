"""Loading reference data from CSV or JSON into a site's change feed, row by row, with reasons.

    linfen central import card cards.csv --site linfen-road
    linfen central import priority_register register.json --site linfen-road --replace

A file holds rows of one kind.  CSV: a header row, UTF-8 (a spreadsheet's BOM is fine), list
cells split on ``;``, empty cells left out.  JSON: a list of objects, an object with a list
under ``entries`` or ``rows`` (so a priority register document imports as it is), or JSON
Lines (``.jsonl``), or one canteen policy document (an object whose ``format`` is
``linfen-canteen-policy``: one row).  Each row needs its kind's key field (:data:`KINDS`; a
``policy`` row's key ``policy_id:version`` is made from those fields when the row has no ``key``);
an ``op`` field of ``delete`` removes the key.  ``--replace`` deletes every key of the kind the file
leaves out.  Kinds and their fields: docs/community-card.md §2 for ``card`` and ``policy`` (a policy
is checked in full by :mod:`common.canteen_policy`, the rules the terminals parse it with).

A bad row is rejected with its row number and reason; good rows are imported in one
transaction.  Every row must be strict JSON (:mod:`sync.strict_json`: no ``NaN``, ``Infinity``,
overflowing numbers or lone surrogates, which would poison every terminal's pull) and pass the
PII gate (:mod:`sync.pii`, DESIGN §7): an ID-number field in any spelling at any depth, a raw
ID number in any field, or an unmasked name is refused with the field's path; the register
carries keyed hashes only.  A file that cannot be read as a whole (too large, not UTF-8, nested
too deeply to parse, a CSV field over the csv module's limit) is one :class:`CentralError` line.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_args

from common.canteen_policy import POLICY_FORMAT, policy_problem
from common.priority_groups import GROUPS

from ..pii import find_pii
from ..protocol import MAX_PAYLOAD_BYTES, ReferenceKind
from ..strict_json import find_problem
from .errors import CentralError
from .reference import ApplyResult, RowChange
from .storage import CentralStore

MAX_KEY_CHARS = 200  # longest key (the protocol's Change.key)
MAX_FILE_BYTES = 256 * 1024 * 1024  # largest import file read (checked by reading, not by stat)
#: Kinds whose top-level ``name`` is an item's name (a dish, a room, a setting), not a person's.
ITEM_KINDS = frozenset({"menu", "price", "screening", "space", "locker", "issuer_key", "terminal_config"})
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_GROUP_NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
CARD_STATUSES = ("active", "lost", "blocked", "cancelled")
HUKOU = ("local", "other")
#: Birth years a card row may carry.
BIRTH_YEARS = (1900, 2100)
_TRUE, _FALSE = ("true", "1", "yes", "y", "是"), ("false", "0", "no", "n", "否")


@dataclass(frozen=True)
class KindSpec:
    """How rows of one reference kind are checked."""

    key: str
    required: tuple[str, ...] = ()
    integers: tuple[str, ...] = ()  # whole numbers (money in fen, counts); CSV text is converted
    lists: tuple[str, ...] = ()  # lists; a CSV cell is split on ';'
    check: Callable[[dict[str, Any]], str | None] | None = None  # further check: a reason, or None
    booleans: tuple[str, ...] = ()  # true/false; a CSV cell true/false, 1/0, yes/no, 是/否
    derive_key: Callable[[dict[str, Any]], str | None] | None = None  # the key of a row without its key field


def _priority(row: dict[str, Any]) -> str | None:
    if not _HEX64.match(str(row["h"])):
        return "h must be a person key: 64 lowercase hex digits (HMAC of the ID number, never the number)"
    unknown = sorted(set(row.get("groups", [])) - set(GROUPS))
    return f"unknown groups {unknown}; allowed: {list(GROUPS)}" if unknown else None


def _card(row: dict[str, Any]) -> str | None:
    if row.get("status") not in CARD_STATUSES:
        return "status must be active, lost or blocked (a card in use) or cancelled (withdrawn for good)"
    if "h" in row and not _HEX64.match(str(row["h"])):
        return "h must be a person key: 64 lowercase hex digits (HMAC of the ID number, never the number)"
    name = row.get("masked_name")
    if name is not None and (not isinstance(name, str) or len(name) > 32 or (len(name) >= 2 and "*" not in name)):
        return "masked_name must be a masked name (e.g. 陈*英), at most 32 characters"
    year = row.get("birth_year")
    if year is not None and not BIRTH_YEARS[0] <= year <= BIRTH_YEARS[1]:
        return f"birth_year must be {BIRTH_YEARS[0]}-{BIRTH_YEARS[1]}, not {year}"
    bad = [g for g in row.get("groups", []) if not isinstance(g, str) or not _GROUP_NAME.match(g)]
    if bad:
        return f"groups must be names of a-z, 0-9 and _ (e.g. special_care), not {str(bad[0])[:30]!r}"
    if "hukou" in row and row["hukou"] not in HUKOU:
        return f"hukou must be {' or '.join(HUKOU)}"
    return None


def _screening(row: dict[str, Any]) -> str | None:
    try:
        starts = dt.datetime.fromisoformat(str(row["starts_at"]))
    except ValueError:
        return "starts_at must be an ISO time, e.g. 2026-12-05T14:00:00+08:00"
    if starts.tzinfo is None:
        return "starts_at must give its offset, e.g. +08:00"
    if "seats" in row and not 1 <= row["seats"] <= 2000:
        return "seats must be 1-2000"
    if "row_seats" in row and not 1 <= row["row_seats"] <= 100:
        return "row_seats must be 1-100"
    if "price_fen" in row and not 0 <= row["price_fen"] <= 100_000:
        return "price_fen must be 0-100000 (0: free)"
    bad = [g for g in row.get("free_groups", []) if not isinstance(g, str) or not _GROUP_NAME.match(g)]
    if bad:
        return f"free_groups must be names of a-z, 0-9 and _ (e.g. special_care), not {str(bad[0])[:30]!r}"
    if not all(str(a).strip().isdigit() for a in row.get("aisle_after", [])):
        return "aisle_after must be seat numbers (after which a centre aisle runs)"
    return None


def _policy(row: dict[str, Any]) -> str | None:
    problem = policy_problem(row)
    return f"field {problem}" if problem else None


def _policy_key(row: dict[str, Any]) -> str | None:
    if row.get("policy_id") is None or row.get("version") is None:
        return None
    return f"{str(row['policy_id']).strip()}:{str(row['version']).strip()}"


def _volunteer(row: dict[str, Any]) -> str | None:
    if not _HEX64.match(str(row["h"])):
        return "h must be a person key: 64 lowercase hex digits (HMAC of the ID number, never the number)"
    return None


KINDS: dict[str, KindSpec] = {
    "priority_register": KindSpec("h", ("groups",), lists=("groups",), check=_priority),
    "card": KindSpec("card_no", ("status",), integers=("offline_limit_fen", "birth_year"), lists=("groups",),
                     check=_card, booleans=("dibao",)),
    "blacklist": KindSpec("card_no", ("reason",)),
    "balance": KindSpec("card_no", ("balance_fen",), integers=("balance_fen",)),
    "menu": KindSpec("item_id", ("name",), integers=("price_fen",)),
    "price": KindSpec("item_id", ("price_fen",), integers=("price_fen",)),
    "screening": KindSpec("screening_id", ("title", "starts_at"), integers=("seats", "price_fen", "row_seats"),
                          lists=("free_groups", "aisle_after"), check=_screening),
    "space": KindSpec("space_id", ("name",), integers=("capacity",)),
    "locker": KindSpec("locker_id", ("site_area",)),
    "permit": KindSpec("permit_id", ("holder", "valid_until")),
    "issuer_key": KindSpec("key_id", ("public_key",)),
    "terminal_config": KindSpec("name", ("value",)),
    "policy": KindSpec("key", ("policy_id", "version", "valid_from", "rules"), integers=("version",), check=_policy,
                       derive_key=_policy_key),
    # the Time Bank's roster (the central publishes it after each registration; importable like balances)
    "volunteer": KindSpec("h", ("member_no", "name_masked", "status"), integers=("member_no",), check=_volunteer),
}
assert set(KINDS) == set(get_args(ReferenceKind)), "every protocol reference kind needs an import spec"


@dataclass(frozen=True)
class Rejection:
    """One row not imported."""

    row: int  # 1-based data row (CSV: the header is row 0)
    reason: str


@dataclass
class ImportReport:
    """What an import did."""

    kind: str
    site: str
    rows: int = 0
    accepted: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    result: ApplyResult | None = None

    def summary(self) -> str:
        """The lines an operator reads after the import."""
        r = self.result
        lines = [f"import {self.kind} for site {self.site}: {self.rows} rows read, {self.accepted} accepted, "
                 f"{len(self.rejected)} rejected"]
        if r is not None:
            span = f" (cursors {r.first_cursor}-{r.last_cursor})" if r.first_cursor is not None else ""
            lines.append(f"  change feed: {r.upserted} upserted, {r.deleted} deleted, {r.unchanged} unchanged{span}")
        lines += [f"  rejected row {x.row}: {x.reason}" for x in self.rejected]
        return "\n".join(lines)


def read_text(path: Path, limit: int | None = None) -> str:
    """The file as UTF-8 text, reading at most ``limit + 1`` bytes (a device or a pipe reports no size).

    ``limit`` defaults to :data:`MAX_FILE_BYTES`.
    """
    limit = MAX_FILE_BYTES if limit is None else limit
    try:
        with open(path, "rb") as stream:
            data = stream.read(limit + 1)
    except OSError as exc:
        raise CentralError("bad_file", f"{path}: cannot read it ({exc.strerror or exc})") from None
    if len(data) > limit:
        raise CentralError("file_too_large", f"{path}: larger than {limit} bytes")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CentralError("bad_file", f"{path}: not UTF-8 text (byte {exc.start})") from None


def _csv_rows(path: Path, text: str) -> list[dict[str, Any]]:
    reader = csv.DictReader(io.StringIO(text))
    try:
        return list(reader)
    except csv.Error as exc:
        raise CentralError("bad_file", f"{path}: line {reader.line_num + 1}: not CSV this importer reads ({exc})") from None


def _json_line(n: int, line: str) -> Any:
    try:
        return json.loads(line)
    except RecursionError:
        return {"__error__": "nested too deeply to read", "__line__": n}
    except ValueError as exc:
        return {"__error__": f"not JSON ({getattr(exc, 'msg', exc)})", "__line__": n}


def read_rows(path: Path) -> list[dict[str, Any]]:
    """The rows of a CSV, JSON or JSON Lines file; CentralError when the file itself is unreadable.

    Values that are not strict JSON (``NaN``, lone surrogates ...) are read as they are, so the
    row holding one is rejected by :func:`check_row` with its number, not the whole file.
    """
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".json", ".jsonl", ".ndjson"):
        raise CentralError("bad_file", f"{path}: use a .csv, .json or .jsonl file")
    text = read_text(path)
    if suffix == ".csv":
        return _csv_rows(path, text)
    if suffix in (".jsonl", ".ndjson"):
        return [_json_line(n, line) for n, line in enumerate(text.splitlines(), 1) if line.strip()]
    if suffix == ".json":
        try:
            doc = json.loads(text)
        except RecursionError:
            raise CentralError("bad_file", f"{path}: nested too deeply to read") from None
        except ValueError as exc:
            raise CentralError("bad_file", f"{path}: not JSON ({exc})") from None
        if isinstance(doc, dict) and doc.get("format") == POLICY_FORMAT and not {"entries", "rows"} & set(doc):
            return [doc]  # one policy document is one row
        rows = doc.get("entries", doc.get("rows")) if isinstance(doc, dict) else doc
        if not isinstance(rows, list):
            raise CentralError("bad_file", f"{path}: expected a list of rows, or an object with 'entries' or 'rows'")
        return rows
    raise CentralError("bad_file", f"{path}: use a .csv, .json or .jsonl file")


def check_row(kind: str, raw: Any, from_csv: bool) -> RowChange:
    """The change one row asks for; ValueError with the reason when it is not acceptable."""
    spec = KINDS[kind]
    if not isinstance(raw, dict):
        raise ValueError("not an object")
    if "__error__" in raw:
        raise ValueError(raw["__error__"])
    row = {str(k).strip(): v for k, v in raw.items() if k is not None and not (from_csv and v in ("", None))}
    problem = find_problem(row)
    if problem is not None:
        raise ValueError(f"field {problem.path}: not strict JSON ({problem.reason}): {problem.detail}")
    finding = find_pii(row, item_name_ok=kind in ITEM_KINDS)
    if finding is not None:
        raise ValueError(str(finding))
    op = str(row.pop("op", "upsert")).strip().lower()
    if op not in ("upsert", "delete"):
        raise ValueError(f"op must be upsert or delete, not {op!r}")
    key = row.get(spec.key)
    if key is None and spec.derive_key is not None:
        key = spec.derive_key(row)
    if not isinstance(key, str | int) or isinstance(key, bool) or not str(key).strip():
        raise ValueError(f"no {spec.key} (the key of a {kind} row)")
    key = str(key).strip()
    if len(key) > MAX_KEY_CHARS or not key.isprintable():
        raise ValueError(f"{spec.key} must be 1-{MAX_KEY_CHARS} printable characters")
    if op == "delete":
        return RowChange(key, "delete")
    row[spec.key] = key
    missing = [name for name in spec.required if name not in row]
    if missing:
        raise ValueError(f"missing {', '.join(missing)}")
    for name in spec.lists:
        if name in row and from_csv:
            row[name] = [part.strip() for part in str(row[name]).split(";") if part.strip()]
        if name in row and not isinstance(row[name], list):
            raise ValueError(f"{name} must be a list")
    for name in spec.integers:
        if name in row:
            value = row[name]
            if from_csv and isinstance(value, str) and re.fullmatch(r"-?\d{1,18}", value.strip()):
                value = int(value.strip())
            if not isinstance(value, int) or isinstance(value, bool):
                raise ValueError(f"{name} must be a whole number, not {str(row[name])[:30]!r}")
            row[name] = value
    for name in spec.booleans:
        if name in row:
            value = row[name]
            if from_csv and isinstance(value, str) and value.strip().lower() in _TRUE + _FALSE:
                value = value.strip().lower() in _TRUE
            if not isinstance(value, bool):
                raise ValueError(f"{name} must be true or false, not {str(row[name])[:30]!r}")
            row[name] = value
    reason = spec.check(row) if spec.check else None
    if reason:
        raise ValueError(reason)
    if len(json.dumps(row, ensure_ascii=False).encode("utf-8")) > MAX_PAYLOAD_BYTES:
        raise ValueError(f"row is over {MAX_PAYLOAD_BYTES} bytes")
    return RowChange(key, "upsert", row)


def import_file(store: CentralStore, kind: str, path: Path, site: str, *, replace: bool = False,
                progress: Callable[[int, int], None] | None = None) -> ImportReport:
    """Check every row of ``path`` and write the good ones to ``site``'s feed in one transaction."""
    if kind not in KINDS:
        raise CentralError("bad_kind", f"unknown kind {kind!r}; one of: {', '.join(KINDS)}")
    rows = read_rows(Path(path))
    from_csv = Path(path).suffix.lower() == ".csv"
    report = ImportReport(kind, site, rows=len(rows))
    changes: list[RowChange] = []
    first_row: dict[str, int] = {}
    for n, raw in enumerate(rows, 1):
        try:
            change = check_row(kind, raw, from_csv)
            if change.key in first_row:
                raise ValueError(f"key {change.key!r} repeats row {first_row[change.key]}")
        except ValueError as exc:
            report.rejected.append(Rejection(n, str(exc)))
        else:
            first_row[change.key] = n
            changes.append(change)
        if progress is not None:
            progress(n, len(rows))
    if replace and report.rejected:
        raise CentralError("replace_refused", f"--replace with {len(report.rejected)} rejected rows would delete "
                           "the keys of those rows: fix the file first\n" + report.summary())
    report.accepted = len(changes)
    report.result = store.apply_reference(site, kind, changes, replace=replace)
    return report


def progress_bar(stream: io.TextIOBase | Any, width: int = 30) -> Callable[[int, int], None]:
    """A progress callback drawing ``[#####     ] 1200/8300 rows`` on ``stream`` (a terminal)."""
    last = [-1]
    interactive = bool(getattr(stream, "isatty", lambda: False)())

    def draw(done: int, total: int) -> None:
        percent = 100 if total == 0 else done * 100 // total
        if percent == last[0] or (not interactive and done != total):
            return
        last[0] = percent
        filled = width * percent // 100
        stream.write(f"\r[{'#' * filled}{' ' * (width - filled)}] {done}/{total} rows")
        if done == total:
            stream.write("\n")
        stream.flush()

    return draw

