"""Canteen analytics at the central, from the synced ``card.payment`` / ``card.void`` events.

:mod:`.load` (reading a month's payments, seating, cards, settings), :mod:`.figures` (the
figures and their definitions, pure), :mod:`.models` (the API's answers), :mod:`.queries`
(entry points; publishing the month's top dishes to every site as ``terminal_config``
``top_dishes``), :mod:`.router` (``/v1/analytics/*``), :mod:`.page` (the web page),
:mod:`.schema` / :mod:`.migrations` (the settings table), :mod:`.cli` (``linfen central analytics``).
"""
