"""Events that feed the canteen flow and the effects it asks for: plain data, no I/O.

The resident's and the screen's shared events and effects (Show, Say, Alert, MoreTime,
HelpRequested, Dismissed) come from :mod:`kiosk.runtime.screens`, as for every role.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kiosk.runtime.events import CardFailed, CardPresented, Failed, Tick
from kiosk.runtime.screens import Alert, Dismissed, HelpRequested, MoreTime, Say, Show

Item = dict[str, Any]  # {item_id, name, name_en, unit_fen, qty}


# -- events -------------------------------------------------------------------------------
@dataclass(frozen=True)
class MealChosen:
    """Self-pay: the resident tapped a set meal's big button."""

    item: Item


@dataclass(frozen=True)
class BasketChanged:
    """Cashier: the clerk's basket now holds ``items`` (empty: cleared)."""

    items: tuple[Item, ...]


@dataclass(frozen=True)
class PaymentDone:
    """The reader took the money (``status`` ``paid``) or found the same basket just paid (``duplicate``)."""

    status: str
    entry_id: str
    paid_fen: int
    lines: tuple[dict[str, Any], ...]  # the quote's explanation lines (zh/en), shown and spoken
    balance_after_fen: int | None
    low_balance: bool
    offline: bool
    tap: int = 0  # the flow's tap number from Pay


@dataclass(frozen=True)
class PaymentRefused:
    """No money moved: ``code`` says why (card or amount refusals), ``params`` the numbers to say."""

    code: str
    params: dict[str, Any] = field(default_factory=dict)
    tap: int = 0


@dataclass(frozen=True)
class VoidRequested:
    """The clerk cancels a payment of this reader, with a reason."""

    entry_id: str
    reason: str
    staff: str


@dataclass(frozen=True)
class VoidDone:
    """A void was recorded (``ok``) or refused (``code`` says why)."""

    ok: bool
    entry_id: str
    code: str = ""
    refund_fen: int = 0


@dataclass(frozen=True)
class ReceiptWanted:
    """The resident pressed "打印小票" on the paid screen."""


@dataclass(frozen=True)
class PrintDone:
    """The printer took the receipt, or could not."""

    ok: bool
    reason: str = ""


Event = (CardPresented | CardFailed | MealChosen | BasketChanged | PaymentDone | PaymentRefused | VoidRequested
         | VoidDone | ReceiptWanted | PrintDone | MoreTime | HelpRequested | Dismissed | Tick | Failed)


# -- effects ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Pay:
    """Charge the card for the items: price from the policy for its holder, limits, journal — one action."""

    card_no: str
    items: tuple[Item, ...]
    tap: int


@dataclass(frozen=True)
class VoidPayment:
    """Record a void of one payment."""

    entry_id: str
    reason: str
    staff: str


@dataclass(frozen=True)
class PrintReceipt:
    """Print the receipt of a payment."""

    entry_id: str


Effect = Show | Say | Alert | Pay | VoidPayment | PrintReceipt

__all__ = [
    "Alert", "BasketChanged", "CardFailed", "CardPresented", "Dismissed", "Effect", "Event", "Failed", "HelpRequested",
    "Item", "MealChosen", "MoreTime", "Pay", "PaymentDone", "PaymentRefused", "PrintDone", "PrintReceipt",
    "ReceiptWanted", "Say", "Show", "Tick", "VoidDone", "VoidPayment", "VoidRequested",
]
