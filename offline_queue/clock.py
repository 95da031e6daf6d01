"""The clock seam of this layer (structurally the same as ``kiosk.core.clock.Clock``, which this
package may not import): wall time for stored timestamps, monotonic time for waits."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def monotonic(self) -> float: ...

    def now(self) -> datetime: ...


class SystemClock:
    def monotonic(self) -> float:
        return time.monotonic()

    def now(self) -> datetime:
        return datetime.now(UTC)
