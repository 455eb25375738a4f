"""The community canteen: policy (discounts and the daily subsidy as pulled data), pricing, card payments.

:mod:`.policy` reads the district's policy documents, :mod:`.pricing` turns a basket, a card holder and
a day into a :class:`~kiosk.canteen.pricing.Quote` that explains itself in Chinese and English.
"""
