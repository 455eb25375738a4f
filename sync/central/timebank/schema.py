"""The Time Bank's tables as the code queries them (created only by :mod:`.migrations`).

While the module is at migration step 1 the tables are exactly step 1's (:func:`.migrations.v1_tables`);
what each table and column means is written there and in docs/timebank.md.
"""

from __future__ import annotations

from sqlalchemy import MetaData

from .migrations import v1_tables

metadata = v1_tables(MetaData())
_t = metadata.tables

tb_volunteers = _t["tb_volunteers"]
tb_staff = _t["tb_staff"]
tb_otps = _t["tb_otps"]
tb_secrets = _t["tb_secrets"]
tb_audit = _t["tb_audit"]
tb_units = _t["tb_units"]
tb_activities = _t["tb_activities"]
tb_signups = _t["tb_signups"]
tb_projects = _t["tb_projects"]
tb_votes = _t["tb_votes"]
tb_shifts = _t["tb_shifts"]
tb_entries = _t["tb_entries"]
tb_movements = _t["tb_movements"]
tb_balances = _t["tb_balances"]
tb_policies = _t["tb_policies"]
tb_reviews = _t["tb_reviews"]
tb_rewards = _t["tb_rewards"]
tb_redemptions = _t["tb_redemptions"]
