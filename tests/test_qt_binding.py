"""The Qt binding keeps None's reference count: PySide6 6.12.0 dropped one on every void call.

On Python 3.11 (None is not immortal there) that bug aborted the hall after about a
thousand residents with "Fatal Python error: none_dealloc".  pyproject.toml excludes 6.12;
this test fails if a binding with the bug comes back.
"""

from __future__ import annotations

import sys

import pytest

from ui.qt import QLabel, QWidget

pytestmark = pytest.mark.ui

CALLS = 5000


@pytest.mark.parametrize("call", ["setText", "setVisible", "update", "polish"])
def test_void_calls_do_not_drain_none(qtbot, call):
    label = QLabel()
    qtbot.addWidget(label)
    holder = QWidget()
    qtbot.addWidget(holder)
    actions = {
        "setText": lambda: label.setText("A012"),
        "setVisible": lambda: label.setVisible(False),
        "update": holder.update,
        "polish": lambda: label.style().polish(label),
    }
    act = actions[call]
    for _ in range(100):  # warm up wrapper caches
        act()
    before = sys.getrefcount(None)
    for _ in range(CALLS):
        act()
    assert sys.getrefcount(None) - before > -CALLS // 10
