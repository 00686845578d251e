"""The call log: every call a simulated host served, with redacted arguments, in order."""

import threading
from dataclasses import dataclass, field
from typing import Any, Optional

from ovm3.api import TABLE
from ovm3.redact import redact_args, redact_value

MAX_RECORDS = 100000


@dataclass
class CallRecord:
    """One served call. ``args`` and ``result`` are redacted; ``fault`` is the fault string or None."""

    host: str
    method: str
    args: list
    time: float
    duration: float = 0.0
    result: Any = None
    fault: Optional[str] = None
    injected: Optional[str] = None  # the fault-rule kind that fired, if any
    nested: bool = field(default=False)  # reached through another host's dispatch()

    @property
    def ok(self):
        return self.fault is None


def redact_call(method_name, args, version):
    try:
        method = TABLE.get(method_name)
    except Exception:  # noqa: BLE001 - unknown wire names are logged too, redacted generically
        method = None
    try:
        return redact_args(method, list(args), version)
    except Exception:  # noqa: BLE001 - a malformed call must still be logged
        return [redact_value(a) for a in args]


class CallLog:
    """Thread-safe, list-like log of :class:`CallRecord` (oldest first, capped at MAX_RECORDS)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._records = []

    def append(self, record):
        with self._lock:
            self._records.append(record)
            if len(self._records) > MAX_RECORDS:
                del self._records[: len(self._records) - MAX_RECORDS]

    def clear(self):
        with self._lock:
            self._records.clear()

    def methods(self):
        """The method names in the order they were served."""
        with self._lock:
            return [r.method for r in self._records]

    def find(self, method):
        with self._lock:
            return [r for r in self._records if r.method == method]

    def snapshot(self):
        with self._lock:
            return list(self._records)

    def __iter__(self):
        return iter(self.snapshot())

    def __len__(self):
        with self._lock:
            return len(self._records)

    def __getitem__(self, i):
        with self._lock:
            return self._records[i]

    def __repr__(self):
        return "<CallLog %d calls>" % len(self)
