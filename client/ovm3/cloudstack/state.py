"""The VM state machine: what the agent shows, what we are doing, and what we report to CloudStack.

The agent's ``list_vms`` lags behind our own actions (a domain appears some time after ``start_vm``
returns, disappears some time after ``stop_vm``), so the reported state merges two inputs:

* the *transitional* state we set when an operation begins (Starting, Stopping, Migrating, and Arriving
  on a migration's destination), kept until the agent shows the outcome or a deadline passes;
* the *observed* state from the xm-style flags of ``list_vms`` (or absence from the list).

``TRANSITIONS`` says which operation events are legal from which state; ``merge`` says what to report.
Both are plain tables so they can be table-tested.
"""

import threading
import time

from ovm3.errors import InvalidTransition

STARTING, RUNNING, STOPPING, STOPPED, MIGRATING, ERROR, UNKNOWN = (
    "Starting",
    "Running",
    "Stopping",
    "Stopped",
    "Migrating",
    "Error",
    "Unknown",
)
#: A migration's destination between PrepareForMigration and the domain showing in its own list_vms:
#: resolved by what this host's agent shows, never by word from the source's resource.
ARRIVING = "Arriving"
TRANSITIONAL = (STARTING, STOPPING, MIGRATING, ARRIVING)
ABSENT = None  # observation: the domain is not in list_vms

#: How long a transitional state may disagree with the agent before the agent's view wins (seconds).
DEFAULT_LAG = 600.0

# event -> (allowed from-states, to-state)
TRANSITIONS = {
    "start": ((STOPPED, UNKNOWN, ERROR), STARTING),
    "started": ((STARTING,), RUNNING),
    "start_failed": ((STARTING,), STOPPED),
    "stop": ((RUNNING, STARTING, STOPPING, ERROR, UNKNOWN, STOPPED, ARRIVING), STOPPING),
    "stopped": ((STOPPING,), STOPPED),
    "stop_failed": ((STOPPING,), RUNNING),
    "migrate": ((RUNNING,), MIGRATING),
    "migrated": ((MIGRATING,), STOPPED),
    "migrate_failed": ((MIGRATING,), RUNNING),
    "prepare_migration": ((STOPPED, UNKNOWN), ARRIVING),
    "arrived": ((ARRIVING, STOPPED, UNKNOWN), RUNNING),
    "reboot": ((RUNNING,), STARTING),
}

# (transitional state or None, observed state) -> reported state
_MERGE = {
    (STARTING, RUNNING): RUNNING,
    (STARTING, ABSENT): STARTING,
    (STARTING, STOPPED): STARTING,
    (STARTING, ERROR): ERROR,
    (STARTING, STOPPING): STARTING,
    (STOPPING, RUNNING): STOPPING,
    (STOPPING, ABSENT): STOPPED,
    (STOPPING, STOPPED): STOPPED,
    (STOPPING, STOPPING): STOPPING,
    (STOPPING, ERROR): STOPPING,
    (MIGRATING, RUNNING): MIGRATING,
    (MIGRATING, ABSENT): MIGRATING,
    (MIGRATING, STOPPED): MIGRATING,
    (MIGRATING, STOPPING): MIGRATING,
    (MIGRATING, ERROR): ERROR,
    (ARRIVING, RUNNING): RUNNING,  # the agent lists it here: it arrived
    (ARRIVING, ABSENT): ARRIVING,
    (ARRIVING, STOPPED): ARRIVING,
    (ARRIVING, STOPPING): STOPPING,
    (ARRIVING, ERROR): ERROR,
}

POWER = {
    RUNNING: "PowerOn",
    STOPPING: "PowerOn",
    MIGRATING: "PowerOn",
    ARRIVING: "PowerOn",
    STOPPED: "PowerOff",
    STARTING: "PowerUnknown",
    ERROR: "PowerUnknown",
    UNKNOWN: "PowerUnknown",
}


def observed_state(flags):
    """The state shown by xm-style flags (``r-----``, ``-b----``...); ``None`` flags mean absent."""
    if flags is None:
        return ABSENT
    f = str(flags)
    if any(c in f for c in "rbp"):
        return RUNNING
    if "c" in f:
        return ERROR
    if "d" in f:
        return STOPPING
    if "s" in f:
        return STOPPED
    if f.strip("-") == "":
        return RUNNING  # no flag at all: a domain that exists but is neither blocked nor running yet
    return UNKNOWN


def merge(transitional, observed):
    """What to report for one VM, given our transitional state (or None) and the agent's view."""
    if transitional in TRANSITIONAL:
        return _MERGE.get((transitional, observed), transitional)
    if observed is ABSENT:
        return STOPPED
    return observed


def power_state(state):
    """CloudStack's PowerState for one of our states."""
    return POWER.get(state, "PowerUnknown")


def next_state(current, event):
    """The state after ``event`` from ``current``; raises :class:`InvalidTransition` if not allowed."""
    try:
        allowed, target = TRANSITIONS[event]
    except KeyError:
        raise InvalidTransition("unknown VM event %r" % event) from None
    if current not in allowed:
        raise InvalidTransition("cannot %s a VM that is %s" % (event.replace("_", " "), current))
    return target


class VmStates:
    """Per-host table of VM states and per-VM locks (one VM's start never waits for another's).

    :param lag: seconds after which a transitional state yields to what the agent shows.
    :param clock: a monotonic clock (injectable for tests).
    """

    def __init__(self, lag=DEFAULT_LAG, clock=time.monotonic):
        self.lag = lag
        self.clock = clock
        self._guard = threading.Lock()
        self._states = {}  # name -> (state, since)
        self._locks = {}  # name -> Lock

    def lock(self, name):
        """The lock serialising operations on one VM."""
        with self._guard:
            lk = self._locks.get(name)
            if lk is None:
                lk = self._locks[name] = threading.Lock()
            return lk

    def get(self, name):
        with self._guard:
            entry = self._states.get(name)
        return entry[0] if entry else UNKNOWN

    def event(self, name, event):
        """Apply an operation event; returns the new state."""
        with self._guard:
            current = self._states.get(name, (UNKNOWN, 0))[0]
            target = next_state(current, event)
            self._states[name] = (target, self.clock())
            return target

    def force(self, name, state):
        """Record a state read from the agent (used by sync and by handlers that verified it)."""
        with self._guard:
            self._states[name] = (state, self.clock())

    def _resolve(self, name, seen, now):
        """Merge one observation into the table (guard held); returns the state to report."""
        state, since = self._states.get(name, (None, now))
        transitional = state if state in TRANSITIONAL and now - since < self.lag else None
        reported = merge(transitional, seen)
        if transitional is None or reported not in TRANSITIONAL:
            self._states[name] = (reported, now if reported != state else since)
        return reported

    def observe(self, name, seen):
        """Resolve one VM's state from what the agent shows now (``seen``: an observed state, or
        :data:`ABSENT`); returns the resolved state. Handlers call it before an operation, so a
        transitional state the agent has already settled never blocks the next command."""
        with self._guard:
            return self._resolve(name, seen, self.clock())

    def sync(self, observed):
        """Merge a ``{name: observed state}`` reading of the host; returns ``{name: reported state}``
        for the domains the agent lists, and only those (a VM that migrated away, stopped or has not
        arrived is not this host's to report). Tracked VMs it no longer lists are resolved too.
        """
        now = self.clock()
        report = {}
        with self._guard:
            for name in sorted(set(observed) | set(self._states)):
                reported = self._resolve(name, observed.get(name, ABSENT), now)
                if name in observed:
                    report[name] = reported
        return report
