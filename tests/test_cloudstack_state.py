"""The VM state machine, table-tested: observed flags, merge rules, transitions, lag deadlines, locks."""

import threading

import pytest

from ovm3.cloudstack import state as s


@pytest.mark.parametrize(
    "flags,expected",
    [
        ("r-----", s.RUNNING),
        ("-b----", s.RUNNING),
        ("--p---", s.RUNNING),
        ("---s--", s.STOPPED),
        ("----c-", s.ERROR),
        ("-----d", s.STOPPING),
        ("------", s.RUNNING),
        (None, s.ABSENT),
        ("??", s.UNKNOWN),
    ],
)
def test_observed_state_from_flags(flags, expected):
    assert s.observed_state(flags) == expected


@pytest.mark.parametrize(
    "transitional,observed,reported",
    [
        (s.STARTING, s.ABSENT, s.STARTING),  # agent has not caught up yet
        (s.STARTING, s.RUNNING, s.RUNNING),
        (s.STARTING, s.ERROR, s.ERROR),
        (s.STOPPING, s.RUNNING, s.STOPPING),  # still shutting down
        (s.STOPPING, s.ABSENT, s.STOPPED),
        (s.MIGRATING, s.ABSENT, s.MIGRATING),  # in flight
        (s.MIGRATING, s.RUNNING, s.MIGRATING),
        (s.ARRIVING, s.ABSENT, s.ARRIVING),  # not here yet
        (s.ARRIVING, s.RUNNING, s.RUNNING),  # this host's agent lists it: arrived
        (None, s.ABSENT, s.STOPPED),  # gone without an operation: stopped, not "Stopping"
        (None, s.RUNNING, s.RUNNING),
        (None, s.ERROR, s.ERROR),
    ],
)
def test_merge(transitional, observed, reported):
    assert s.merge(transitional, observed) == reported


@pytest.mark.parametrize(
    "current,event,target",
    [
        (s.STOPPED, "start", s.STARTING),
        (s.STARTING, "started", s.RUNNING),
        (s.STARTING, "start_failed", s.STOPPED),
        (s.RUNNING, "stop", s.STOPPING),
        (s.STOPPING, "stopped", s.STOPPED),
        (s.STOPPING, "stop_failed", s.RUNNING),
        (s.RUNNING, "migrate", s.MIGRATING),
        (s.MIGRATING, "migrated", s.STOPPED),
        (s.MIGRATING, "migrate_failed", s.RUNNING),
        (s.STOPPED, "prepare_migration", s.ARRIVING),
        (s.ARRIVING, "arrived", s.RUNNING),
        (s.ARRIVING, "stop", s.STOPPING),
        (s.RUNNING, "reboot", s.STARTING),
    ],
)
def test_legal_transitions(current, event, target):
    assert s.next_state(current, event) == target


@pytest.mark.parametrize(
    "current,event",
    [
        (s.RUNNING, "start"),
        (s.STOPPED, "started"),
        (s.STOPPED, "migrate"),
        (s.STARTING, "migrate"),
        (s.RUNNING, "stopped"),
        (s.STOPPED, "reboot"),
        (s.RUNNING, "bogus"),
    ],
)
def test_illegal_transitions(current, event):
    with pytest.raises(s.InvalidTransition):
        s.next_state(current, event)


@pytest.mark.parametrize(
    "state,power",
    [
        (s.RUNNING, "PowerOn"),
        (s.STOPPED, "PowerOff"),
        (s.MIGRATING, "PowerOn"),
        (s.ERROR, "PowerUnknown"),
        (s.STARTING, "PowerUnknown"),
    ],
)
def test_power_state(state, power):
    assert s.power_state(state) == power


def test_sync_keeps_transitional_state_until_the_lag_deadline():
    now = [100.0]
    table = s.VmStates(lag=30, clock=lambda: now[0])
    table.force("vm", s.STOPPED)
    table.event("vm", "start")
    assert table.sync({}) == {}  # not listed: not reported, but still tracked
    assert table.get("vm") == s.STARTING
    assert table.sync({"vm": s.STOPPED}) == {"vm": s.STARTING}
    now[0] += 31  # after the deadline the agent's view wins
    assert table.sync({}) == {}
    assert table.get("vm") == s.STOPPED


def test_sync_names_only_the_domains_the_agent_lists():
    # A VM that migrated away (or was stopped) is not this host's to report, even as PowerOff:
    # CloudStack's power-state sync would take that for the VM's new truth.
    table = s.VmStates()
    table.force("gone", s.RUNNING)
    table.event("gone", "migrate")
    table.event("gone", "migrated")
    table.force("here", s.RUNNING)
    assert table.sync({"here": s.RUNNING}) == {"here": s.RUNNING}
    assert table.get("gone") == s.STOPPED


def test_an_arrival_resolves_from_this_hosts_own_observation():
    # The destination learns the arrival from its own agent, within the lag, with no peer involved.
    now = [0.0]
    table = s.VmStates(lag=600, clock=lambda: now[0])
    table.observe("vm", s.ABSENT)
    table.event("vm", "prepare_migration")
    assert table.observe("vm", s.ABSENT) == s.ARRIVING
    now[0] += 1
    assert table.observe("vm", s.RUNNING) == s.RUNNING
    assert table.event("vm", "stop") == s.STOPPING  # at once, not 600 s later


def test_sync_reports_vms_the_agent_shows_but_we_never_started():
    table = s.VmStates()
    assert table.sync({"other": s.RUNNING}) == {"other": s.RUNNING}


def test_locks_are_per_vm():
    table = s.VmStates()
    held = table.lock("a")
    held.acquire()
    try:
        got = []
        t = threading.Thread(target=lambda: got.append(table.lock("b").acquire(timeout=1)))
        t.start()
        t.join(2)
        assert got == [True]  # another VM is not blocked
        assert table.lock("a").acquire(timeout=0.05) is False  # the same VM is
        table.lock("b").release()
    finally:
        held.release()
