"""A large on-screen keypad and its entry box: no physical keyboard is assumed at a counter.

Keys are 96-px targets in elder mode; each press edits :attr:`Keypad.value` and redraws the
entry, so what was typed is always shown in words (digits).  A PIN keypad (``secret=True``) shows
one ● per digit and how many digits were typed, never the digits.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ui.qt import QGridLayout, QLabel, QPushButton, QSizePolicy, Qt, QVBoxLayout, QWidget

KEY_WORDS = {"clear": ("清除", "Clear"), "back": ("退格", "Delete")}
SECRET_WORDS = ("{dots}（{n} 位）", "{dots} ({n} digits)")


class Keypad(QWidget):
    """Digits 0–9 (plus optional letter keys), Delete and Clear, with an entry showing the value."""

    def __init__(self, max_length: int = 8, letters: Sequence[str] = (), hint: tuple[str, str] = ("", ""),
                 on_change: Callable[[str], None] | None = None, secret: bool = False) -> None:
        super().__init__()
        self.max_length = max_length
        self.secret = secret  # a PIN: the entry shows dots and a count, never the digits
        self.value = ""
        self.language = "zh"
        self._hint = hint
        self.on_change = on_change  # called with the new value after each key
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(10)
        self.entry = QLabel(objectName="entry")
        self.entry.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.entry.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        layout.addWidget(self.entry)
        self.letter_row = QGridLayout()
        self.letter_row.setSpacing(8)
        layout.addLayout(self.letter_row)
        self.letter_keys: dict[str, QPushButton] = {}
        self.set_letters(letters)
        grid = QGridLayout()
        grid.setSpacing(8)
        self.keys: dict[str, QPushButton] = {}
        for i, key in enumerate(["1", "2", "3", "4", "5", "6", "7", "8", "9", "clear", "0", "back"]):
            button = QPushButton(key if key.isdigit() else "", objectName="key")
            if not key.isdigit():
                button.setProperty("word", "true")  # a word key: a smaller font may be set for it on small screens
            button.clicked.connect(lambda _=False, k=key: self.press(k))
            self.keys[key] = button
            grid.addWidget(button, i // 3, i % 3)
        layout.addLayout(grid)
        layout.addStretch(1)  # on a tall screen the keys stay right under the entry
        self.retranslate("zh")

    def set_letters(self, letters: Sequence[str]) -> None:
        """Show one key per letter (ticket prefixes) above the digits."""
        for button in self.letter_keys.values():
            button.deleteLater()
        self.letter_keys = {}
        for i, letter in enumerate(letters):
            button = QPushButton(letter, objectName="key")
            button.clicked.connect(lambda _=False, k=letter: self.press(k))
            self.letter_keys[letter] = button
            self.letter_row.addWidget(button, 0, i)

    def press(self, key: str) -> None:
        """Apply one key: a digit or letter is appended, ``back`` deletes one, ``clear`` empties."""
        if key == "clear":
            self.value = ""
        elif key == "back":
            self.value = self.value[:-1]
        elif key.isdigit() and len(self.value) < self.max_length:
            self.value += key
        elif key.isalpha() and len(self.value) < self.max_length:
            # a letter starts a ticket number: it replaces any letter already typed
            self.value = key + "".join(c for c in self.value if c.isdigit())
        self._render()
        if self.on_change is not None:
            self.on_change(self.value)

    def clear(self) -> None:
        """Empty the entry."""
        self.press("clear")

    def retranslate(self, language: str) -> None:
        """Redraw the key words and the entry in ``language``."""
        self.language = language
        idx = 0 if language == "zh" else 1
        self.keys["clear"].setText(KEY_WORDS["clear"][idx])
        self.keys["back"].setText(KEY_WORDS["back"][idx])
        self.keys["clear"].setAccessibleName("清除 / Clear")
        self.keys["back"].setAccessibleName("退格 / Delete")
        self._render()

    def _render(self) -> None:
        i = 0 if self.language == "zh" else 1
        if self.secret and self.value:
            self.entry.setText(SECRET_WORDS[i].format(dots="●" * len(self.value), n=len(self.value)))
        else:
            self.entry.setText(self.value or self._hint[i])
