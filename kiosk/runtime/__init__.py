"""The terminal runtime every role runs on: events in, effects out, nothing left hanging.

A role supplies a pure flow (``handle(event) -> effects``, ``fail(where, error) -> effects``,
``deadline()``) and one handler per effect type; the runtime owns the threads:

- :mod:`kiosk.runtime.loop`: the event queue, the clock ticker, the effect registry and a
  worker pool whose every future is checked (a failure becomes a :class:`Failed` event);
- :mod:`kiosk.runtime.readers`: card-reader loops that feed identifications ("first source
  wins" is the flow's rule) and tell device faults from a resident's failed read;
- :mod:`kiosk.runtime.health`: the device supervisor (driver health, debounced up/down).

Nothing here imports a role package (``kiosk.hall`` …) or Qt.
"""

from kiosk.runtime.events import Failed, Flow, Tick
from kiosk.runtime.loop import TerminalRuntime

__all__ = ["Failed", "Flow", "TerminalRuntime", "Tick"]
