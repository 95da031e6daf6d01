"""Errors of the travel-document chip, each with a stable code and the recovery action.

Wrong access data and a document pulled out are the citizen's doing (nothing for staff to
recover); broken secure messaging or garbled data are protocol faults the driver resets.
"""

from __future__ import annotations

from devices.base import DeviceError, ProtocolError, Recovery


class MrzInvalid(DeviceError):
    """MRZ text that cannot be used: wrong shape, bad characters or a failed check digit."""

    code = "chip.mrz_invalid"
    recovery = Recovery.NONE


class TlvError(ProtocolError):
    """BER-TLV bytes that do not parse (truncated, bad length, unexpected tag)."""

    code = "chip.tlv"


class AccessDenied(DeviceError):
    """The chip refused BAC: the access data (document number, birth, expiry) is wrong."""

    code = "chip.access_denied"
    recovery = Recovery.NONE


class SecureMessagingError(ProtocolError):
    """Secure messaging broke (bad MAC, missing objects, status 69 87 / 69 88)."""

    code = "chip.secure_messaging"


class FileAbsent(DeviceError):
    """The chip has no such elementary file (status 6A 82)."""

    code = "chip.file_absent"
    recovery = Recovery.NONE

    def __init__(self, message: str, *, fid: int) -> None:
        super().__init__(message)
        self.fid = fid


class CardRemoved(DeviceError):
    """The document left the reader before the read finished."""

    code = "chip.card_removed"
    recovery = Recovery.NONE


class NoCard(DeviceError):
    """No document lies on the reader."""

    code = "chip.no_card"
    recovery = Recovery.NONE


class NotTravelDocument(DeviceError):
    """The card does not hold the eMRTD application (SELECT of the AID failed)."""

    code = "chip.not_emrtd"
    recovery = Recovery.NONE


class ChipStatusError(ProtocolError):
    """The chip answered an unexpected status word."""

    code = "chip.status"

    def __init__(self, message: str, *, sw: int) -> None:
        super().__init__(message)
        self.sw = sw


# --- writing the endorsement ---------------------------------------------------------------


class IssuerAuthFailed(DeviceError):
    """The chip refused the issuer's cryptogram (wrong key, stale challenge, other record)."""

    code = "chip.issuer_auth_failed"
    recovery = Recovery.NONE


class WriteRefused(DeviceError):
    """The chip refused a write to the endorsement file (not authorised, or not the record
    that was authorised)."""

    code = "chip.write_refused"
    recovery = Recovery.NONE

    def __init__(self, message: str, *, sw: int) -> None:
        super().__init__(message)
        self.sw = sw


class EndorsementFull(DeviceError):
    """Every endorsement slot of the chip is used: the permit must be replaced."""

    code = "chip.endorsement_full"
    recovery = Recovery.NONE


class IssuanceStateError(DeviceError):
    """An issuance step out of order: no challenge taken, not authenticated, another record
    than the one authenticated, or the session ended."""

    code = "chip.issuance_state"
    recovery = Recovery.RESET


class WriteInterrupted(CardRemoved):
    """The document left the reader during the endorsement write.

    ``committed``: False - the commit was never sent, the record is certainly not on the
    chip; None - the commit was sent but not answered, read the chip again to know; True -
    committed, only the read-back was cut short."""

    code = "chip.write_interrupted"

    def __init__(self, message: str, *, committed: bool | None) -> None:
        super().__init__(message)
        self.committed = committed


class EndorsementMismatch(DeviceError):
    """The record read back after the write differs from the one written."""

    code = "chip.endorsement_mismatch"
    recovery = Recovery.RESET
