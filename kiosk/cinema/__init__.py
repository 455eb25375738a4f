"""Community film screenings: today's screenings, one ticket per card per screening, seats, the door check.

:mod:`.screenings` reads what is on, :mod:`.seats` gives a seat (aisle seats first for 80+ and
disabled residents), :mod:`.tickets` keeps the tickets in the store with their outbox events,
:mod:`.flow` is the pure state machine, :mod:`.terminal` runs it on the shared resident runtime
and :mod:`.setup` composes it from a config.  A priced ticket is a card payment through the
canteen's :class:`~kiosk.canteen.payments.CardPayments`.
"""
