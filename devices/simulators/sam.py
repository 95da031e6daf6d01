"""SAM_V ID card reader simulator on a pty: answers find / select / read with the exact frames
of the shared device reference, for any of the four card types.

Scripting (any thread): ``place_card``, ``remove_card``, ``fail_next_read`` (SW3 41 or any
status; afterwards the card must be lifted and placed again, like the real SAM),
``remove_card_during_read`` (the answer breaks off), ``inject_garbage``, ``reply_delay_s``,
``sam_sw3`` (e.g. 0x60 self-test failed), ``corrupt_next_answer``, ``disconnect`` /
``reconnect``.
"""

from __future__ import annotations

import logging
import threading

from devices.base import ProtocolError
from devices.idcard import CardType, IdCardData
from devices.idcard_text import encode_text_block
from devices.samv import Command, FrameDecoder, Sw3, encode_read_data, response_frame
from devices.simulators.cards import sample_card
from devices.simulators.serial_line import SerialLineSimulator

log = logging.getLogger(__name__)

_COMMANDS = {command.value: command for command in Command}


class SamSimulator(SerialLineSimulator):
    kind = "idcard"

    def __init__(
        self,
        *,
        baud: int = 115_200,
        pace: bool = False,
        reply_delay_s: float = 0.0,
        card: str = "",
        transport: str = "pty",
    ) -> None:
        super().__init__(baud=baud, pace=pace, reply_delay_s=reply_delay_s, transport=transport)
        self._lock = threading.Lock()
        self._decoder = FrameDecoder(min_len=3)
        self._card: IdCardData | None = None
        self._needs_lift = False
        self._fail_next_read: int | None = None
        self._cut_next_read = False
        self._corrupt_next = False
        self.sam_sw3 = Sw3.SUCCESS.value
        self.commands: list[Command] = []
        if card:
            self.place_card(card_type=CardType(card))

    # -- scripting --------------------------------------------------------------------------

    def place_card(
        self, card: IdCardData | None = None, *, card_type: CardType = CardType.RESIDENT
    ) -> IdCardData:
        with self._lock:
            self._card = card if card is not None else sample_card(card_type)
            self._needs_lift = False
            return self._card

    def remove_card(self) -> None:
        with self._lock:
            self._card = None
            self._needs_lift = False

    def fail_next_read(self, sw3: int = Sw3.READ_FAILED) -> None:
        with self._lock:
            self._fail_next_read = int(sw3)

    def remove_card_during_read(self) -> None:
        with self._lock:
            self._cut_next_read = True

    def corrupt_next_answer(self) -> None:
        """The next answer carries a wrong checksum."""
        with self._lock:
            self._corrupt_next = True

    # -- protocol ---------------------------------------------------------------------------

    def on_bytes(self, data: bytes) -> None:
        self.pace_delay(len(data))
        self._decoder.feed(data)
        while True:
            try:
                frame = self._decoder.next_frame()
            except ProtocolError:
                self.send(response_frame(Sw3.CHECKSUM_ERROR))
                continue
            if frame is None:
                return
            command = _COMMANDS.get((frame.payload[0], frame.payload[1]))
            if command is None:
                self.send(response_frame(Sw3.COMMAND_ERROR))
                continue
            self.commands.append(command)
            self._answer(command)

    def _answer(self, command: Command) -> None:
        with self._lock:
            answer = self._compose(command)
            if self._corrupt_next and answer:
                self._corrupt_next = False
                answer = answer[:-1] + bytes([answer[-1] ^ 0xFF])
        if answer:
            self.send(answer)

    def _compose(self, command: Command) -> bytes:
        """The answer frame (called with the lock held)."""
        if command in (Command.RESET, Command.SAM_STATUS):
            return response_frame(self.sam_sw3)
        if command is Command.SAM_ID:
            return response_frame(Sw3.SUCCESS, bytes(range(16)))
        if self.sam_sw3 != Sw3.SUCCESS:
            return response_frame(self.sam_sw3)
        card = None if self._needs_lift else self._card
        if command is Command.FIND_CARD:
            if card is None:
                return response_frame(Sw3.NO_CARD)
            return response_frame(Sw3.FIND_OK, b"\x00\x00\x00\x00")
        if command is Command.SELECT_CARD:
            if card is None:
                return response_frame(Sw3.SELECT_FAILED)
            return response_frame(Sw3.SUCCESS, bytes(8))
        if command in (Command.READ_TEXT_PHOTO, Command.READ_TEXT_PHOTO_FINGERPRINT):
            return self._read_answer(card, command)
        if command is Command.READ_APPENDED_ADDRESS:
            return response_frame(Sw3.NO_CONTENT if card else Sw3.READ_FAILED)
        if command is Command.READ_CHIP_NUMBER:
            if card is None:
                return response_frame(Sw3.READ_FAILED)
            return response_frame(Sw3.SUCCESS, bytes.fromhex("0123456789abcdef"))
        return response_frame(Sw3.COMMAND_ERROR)

    def _read_answer(self, card: IdCardData | None, command: Command) -> bytes:
        if card is None:
            return response_frame(Sw3.READ_FAILED)
        if self._fail_next_read is not None:
            sw3, self._fail_next_read = self._fail_next_read, None
            self._needs_lift = True  # the SAM wants the card lifted after a failed read
            return response_frame(sw3)
        photo = card.photo_wlt.ljust(1024, b"\x00")[:1024]
        fingerprint = bytes(1024) if command is Command.READ_TEXT_PHOTO_FINGERPRINT else None
        frame = response_frame(
            Sw3.SUCCESS, encode_read_data(encode_text_block(card), photo, fingerprint)
        )
        if self._cut_next_read:
            self._cut_next_read = False
            self._card = None
            return frame[: len(frame) // 3]
        return frame
