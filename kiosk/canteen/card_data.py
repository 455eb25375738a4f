"""A reader's pulled card data: a card's row, deny-list entry and balance snapshot, and how fresh they are.

The card list and deny list are read through :class:`kiosk.reference.ReferenceData` (parsed once per
feed version); a balance row is read by key straight from the store (12,000 cards' balances change
all day, so they are never parsed as a whole on a resident's tap).  Freshness is the time since the
sync client last reached the end of the central's feed (:func:`sync.apply.feed_age_s`): that is how far behind
the deny list and the balances may be, which the reader reports and its offline limits depend on.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from kiosk.reference import ReferenceData
from kiosk.store import Store
from sync import apply

from .payments import CardFacts, CardPayments
from .wallet import CardLimits, Snapshot


def online_check(store: Store, fresh_s: float, clock: Callable[[], dt.datetime]) -> Callable[[], bool]:
    """A function telling whether the reader caught up within ``fresh_s`` seconds."""
    def online() -> bool:
        age = apply.feed_age_s(store, clock())
        return age is not None and age <= fresh_s
    return online


def card_facts(ref: ReferenceData, store: Store) -> Callable[[str], CardFacts]:
    """A function reading one card's facts from the pulled data."""
    def facts(card_no: str) -> CardFacts:
        cards = ref.cards() or {}
        denied = (ref.blacklist() or {}).get(card_no)
        row = apply.reference_get(store, "balance", card_no)
        snapshot = None
        if row is not None:
            try:
                snapshot = Snapshot.from_row(row)
            except (KeyError, TypeError, ValueError):
                snapshot = None
        return CardFacts(cards.get(card_no), denied.reason if denied is not None else None, snapshot)
    return facts


def reader_payments(store: Store, ref: ReferenceData, limits: CardLimits, clock: Callable[[], dt.datetime],
                    void_window_s: float = 600.0) -> CardPayments:
    """A card reader's payments on its store and pulled data: online while it caught up within ``limits.fresh_s``."""
    return CardPayments(store, card_facts(ref, store), limits, clock, online_check(store, limits.fresh_s, clock),
                        void_window_s)
