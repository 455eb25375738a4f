"""Resident ID card reader (serial SAM module): frames in ``codec``, text fields in ``fields``, driver in ``reader``.

Typical use::

    with IdCardReader("/dev/ttyUSB0", baud=115200) as reader:
        card = reader.read_once(timeout_s=10)
        print(card.masked_name, card.masked_id, card.valid_to or "长期")
"""

from drivers.idcard.codec import (
    CardDataError,
    CardReadError,
    FrameRejected,
    IdCardDisconnected,
    IdCardError,
    IdCardRefused,
    IdCardTimeout,
    IdFrameError,
    NoCardError,
    SamError,
)
from drivers.idcard.fields import id_number_valid, mask_id, mask_name, nation_name
from drivers.idcard.reader import IdCardReader, IdCardReading, SamId, SamStatus

__all__ = [
    "CardDataError",
    "CardReadError",
    "FrameRejected",
    "IdCardDisconnected",
    "IdCardError",
    "IdCardReader",
    "IdCardReading",
    "IdCardRefused",
    "IdCardTimeout",
    "IdFrameError",
    "NoCardError",
    "SamError",
    "SamId",
    "SamStatus",
    "id_number_valid",
    "mask_id",
    "mask_name",
    "nation_name",
]
