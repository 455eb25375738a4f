"""The analytics module's table as the code queries it (created only by :mod:`.migrations`).

``analytics_settings`` holds figures that are data, not code: today the 65+ population of the
sub-district (``population_65_plus``), set with ``linfen central analytics settings
--population-65 N``.  Seats and sittings are not here: they come from the ``space`` reference
rows of each canteen's site (see :mod:`.load`).
"""

from __future__ import annotations

from sqlalchemy import Column, MetaData, String, Table, Text

metadata = MetaData()

#: One row per setting: its name, its value as text, when it was set.
analytics_settings = Table(
    "analytics_settings", metadata,
    Column("name", String(64), primary_key=True),
    Column("value", Text, nullable=False),
    Column("set_at", String(40), nullable=False),
)

POPULATION_65 = "population_65_plus"
