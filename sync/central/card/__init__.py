"""The central's community-card ledger: double entry, immutable, fed by pushed money events.

:mod:`.schema` (its tables), :mod:`.migrations` (its migration set), :mod:`.payloads` (reading
``card.payment`` / ``card.void`` / ``card.topup`` payloads, docs/community-card.md §3),
:mod:`.ledger` (writing balanced entries and the cached balances), :mod:`.posting` (what each
event posts, subsidy reconciliation), :mod:`.consumer` (the push hook: newly stored events in,
postings or problem rows out, then the balance feed of :mod:`.feed`), :mod:`.queries` and
:mod:`.router` (statement, problems and ledger check for operators).
"""
