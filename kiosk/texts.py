"""Every text a citizen or staff member sees: the features' catalogues merged, in one explicit
list (a key defined twice fails here, at import). The screens look keys up with ``text``."""

from __future__ import annotations

from kiosk.core.i18n import Catalogue, merge
from kiosk.machine.texts import TEXTS as MACHINE
from kiosk.terminals.appointment.texts import TEXTS as APPOINTMENT
from kiosk.terminals.home.texts import TEXTS as HOME
from kiosk.terminals.identity.texts import TEXTS as IDENTITY
from kiosk.terminals.photo.texts import TEXTS as PHOTO
from kiosk.terminals.pickup.texts import TEXTS as PICKUP
from kiosk.terminals.renewal.texts import TEXTS as RENEWAL
from kiosk.terminals.staff.texts import TEXTS as STAFF

CATALOGUES: tuple[Catalogue, ...] = (
    HOME,
    MACHINE,
    PHOTO,
    PICKUP,
    RENEWAL,
    STAFF,
    IDENTITY,
    APPOINTMENT,
)
TEXTS = merge(*CATALOGUES)


def text(key: str, language: str, **values: object) -> str:
    """The text for ``key`` in ``language`` (Chinese for any other; the key if unknown)."""
    return TEXTS.text(key, language, **values)
