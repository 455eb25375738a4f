"""The hall kiosk's volunteer desk (时间银行): hours checked in and out by ID card, co-signed by the served resident.

``events`` (plain data), ``flow`` (the pure state machine), ``shifts`` (the open check-ins table and the
outbox events, docs/timebank.md §6), ``desk`` (the hall's check-in and the volunteer flow on one
runtime) and ``wiring`` (the effect handlers on the hall terminal).  Nothing here imports Qt.
"""
