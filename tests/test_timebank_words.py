"""Every flag the hours code can put on a shift has words on the organiser's page (never a bare code)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sync.central.timebank.pages_staff import FLAG_WORDS

pytestmark = pytest.mark.unit

SOURCES = [Path(__file__).resolve().parent.parent / "sync" / "central" / "timebank" / name
           for name in ("hours.py", "consumer.py")]


def test_every_shift_flag_the_code_sets_has_words():
    text = "\n".join(p.read_text(encoding="utf-8") for p in SOURCES)
    flags = set(re.findall(r'flag\s*=\s*"([a-z_]+)"', text)) | set(re.findall(r'return "(too_[a-z]+)"', text))
    assert {"auto_closed", "no_check_in", "no_check_out", "late_check_out", "self_cosign", "too_short",
            "too_long"} <= flags  # the scan still finds them where they are set
    assert sorted(flags - set(FLAG_WORDS)) == []
    assert all(re.search(r"[\u4e00-\u9fff]", words) for words in FLAG_WORDS.values())
