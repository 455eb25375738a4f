"""What every resident window (hall, canteen, cinema) does the same way around its pages: language and captions.

* :func:`redraw_in_language`: after the resident switched language, the screen on show is drawn again
  in the new words with its countdown kept (not restarted), and the caption of what is being said too.
* :func:`caption_words`: the words of a spoken prompt for the caption line: ``""`` when the page says
  them already (the same words on a visible label, or a prompt the page lays out in its own widgets),
  ``None`` when the bar says them (help; the countdown's warning) and the caption stays as it is.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from kiosk.prompts import prompt_text
from kiosk.runtime.screens import Show
from ui.qt import QLabel, QWidget


def redraw_in_language(window: Any) -> None:
    """Draw ``window``'s last screen again in its (new) language, countdown kept, and its caption."""
    window.bar.language = window.language
    left = window.bar.seconds_left()
    show = window._last_show
    if left is not None:
        show = Show(show.screen, {**show.data, "stays_s": left})
    window.apply(Show(show.screen, {k: v for k, v in show.data.items() if k != "reset"}))
    if window._caption_key:
        window.caption(*window._caption_key)


def flat(text: str) -> str:
    """``text`` without any white space (to compare wrapped words)."""
    return "".join(text.split())


def caption_words(window: Any, key: str, params: dict[str, Any], page: QWidget,
                  laid_out: Collection[str] = ()) -> str | None:
    """The prompt's words for the caption line, ``""`` when ``page`` says them, None when the bar does.

    Remembers the prompt (so a language change says it again) and puts help's words in the bar.
    """
    window._caption_key = (key, params)
    text = prompt_text(key, window.language, params)
    window.spoken = text
    if key == "help_called":
        window.bar.note(text)
        return None
    if key == "timeout_warning":
        return None  # the bar's countdown says it, in the warning's words
    shown = {flat(w.text()) for w in page.findChildren(QLabel) if w.isVisibleTo(page)}
    return "" if flat(text) in shown or key in laid_out else text
