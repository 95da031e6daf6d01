"""The typed joint between a flow and the services it asks to do work.

A service is known to the flows by a ``PortKey[P]``, where ``P`` is the ``typing.Protocol``
the service implements (declared beside the flow that uses it, in its feature's ``ports``).
A flow asks with ``call(KEY, lambda port, session: port.operation(...), reply)``: mypy checks
the operation against the protocol, and the runner checks, when the service is attached, that
it is one. The runner executes the operation on the service's own worker and brings the typed
answer back as ``Event(f"{reply}.ok", reply=answer)``, or ``Event(f"{reply}.failed",
reply=Failure(...))`` when it raised. One mechanism for every service, devices included.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from kiosk.core.engine import Command, Event
from kiosk.core.session import Session

P = TypeVar("P")
T = TypeVar("T")


@dataclass(frozen=True)
class PortKey(Generic[P]):
    """Names a service the flows call, typed by the protocol it implements."""

    name: str


@dataclass(frozen=True)
class Call(Command, Generic[P]):
    """Ask the service behind ``port`` to run ``operation`` (on its worker, with the session);
    the answer comes back as ``<reply>.ok`` / ``<reply>.failed``."""

    port: PortKey[P]
    operation: Callable[[P, Session | None], object]
    reply: str


def call(port: PortKey[P], operation: Callable[[P, Session | None], object], reply: str) -> Call[P]:
    return Call(port, operation, reply)


@dataclass(frozen=True)
class Failure:
    """Why a call failed: the error's stable code, its message and the recovery action."""

    code: str
    message: str = ""
    recovery: str = "reset"

    @classmethod
    def of(cls, exc: BaseException) -> Failure:
        recovery = getattr(exc, "recovery", None)
        return cls(
            str(getattr(exc, "code", "error.unexpected")),
            str(exc),
            str(getattr(recovery, "value", recovery or "reset")),
        )


class WrongReply(TypeError):
    """A flow read an answer as the wrong type: a wiring mistake, never the citizen's."""


def answer(event: Event, kind: type[T]) -> T:
    """The typed answer an ``.ok`` event carries."""
    if not isinstance(event.reply, kind):
        raise WrongReply(f"{event.name} carries {type(event.reply).__name__}, not {kind.__name__}")
    return event.reply


def failure(event: Event) -> Failure:
    """Why a ``.failed`` event failed (a timeout or a missing answer reads as 'timeout')."""
    return event.reply if isinstance(event.reply, Failure) else Failure("timeout", event.name)
