"""Agent text on its way to people, over real sockets: the connection's Basic-auth password quoted in a
fault is masked everywhere (stderr, AgentFault, serve answers); control characters are escaped for
the terminal while --json stays exact."""

import json

import pytest

from ovm3 import errors
from ovm3.cli.main import main
from ovm3.cli.output import key_values, printable, table
from ovm3.sim import simulated_agents
from tests.cloudstack_support import body, resources


def test_a_fault_quoting_the_login_password_is_masked_everywhere(tmp_path, monkeypatch, capsys):
    with simulated_agents(count=1, version="3.3", tls=False, root=tmp_path) as hosts:
        h = hosts[0]
        pw = h.password
        assert pw
        h.faults.add(method="echo", kind="fault", fault="exceptions.Exception:login oracle:%s refused" % pw)
        with pytest.raises(errors.AgentFault) as info:
            h.client(retries=0).call("echo", "x")
        e = info.value
        for text in (str(e), e.fault_string, e.agent_message, repr(e.args)):
            assert pw not in text
        assert "login oracle:*** refused" in str(e)

        monkeypatch.setenv("OVM3_PASSWORD", pw)
        assert main(["--url", h.url, "call", "echo", "x"]) == 1
        err = capsys.readouterr().err
        assert pw not in err and "oracle:***" in err


def test_serve_answers_do_not_quote_the_login_password(tmp_path):
    with resources(tmp_path) as (hosts, (r,)):
        pw = hosts[0].password
        hosts[0].faults.add(method="echo", kind="fault", fault="exceptions.Exception:bad login %s" % pw, count=5)
        ans = r.execute("CheckHealthCommand", {})
        assert body(ans)["result"] is False
        assert pw not in json.dumps(ans) and "bad login ***" in body(ans)["details"]


HOSTILE = "ok\rovm3: all good\x1b[2J\x9b31m\x9d0;title\x07\u202eevil\x00"
# what XML 1.0 can carry from an agent: CR, TAB, LF, C1 controls, bidi overrides
ON_THE_WIRE = "ok\rovm3: all good\t\x9b2J\x9b31m\x9d0;title\u202eevil\nmore"


def test_printable_escapes_c0_c1_and_bidi_controls():
    shown = printable(HOSTILE)
    assert all(c.isprintable() for c in shown)
    assert "\\r" in shown and "\\x1b" in shown and "\\x9b" in shown and "\\x9d" in shown
    assert "\\u202e" in shown and "\\x00" in shown
    assert printable("two\nlines", keep_newlines=True) == "two\nlines"
    assert printable("two\nlines") == "two\\nlines"
    assert all(c.isprintable() for c in table([{"a": HOSTILE}], ["a"]).replace("\n", ""))
    assert all(c.isprintable() for c in key_values([("k", HOSTILE)]).replace("\n", ""))


def test_control_characters_from_an_agent_reach_the_terminal_escaped(tmp_path, monkeypatch, capsys):
    with simulated_agents(count=1, version="3.3", tls=False, root=tmp_path) as hosts:
        h = hosts[0]
        monkeypatch.setenv("OVM3_PASSWORD", h.password)
        h.faults.add(method="echo", kind="fault", fault="exceptions.Exception:" + ON_THE_WIRE, count=1)
        assert main(["--url", h.url, "call", "echo", "x"]) == 1
        err = capsys.readouterr().err
        line = err.rstrip("\n")
        assert "\n" not in line and all(c.isprintable() for c in line), repr(err)
        # (XML turns the CR into a LF on the way; either way it stays on one visible line)
        assert line.startswith("ovm3: error:") and "ok\\novm3" in line and "\\x9b" in line

        # --json stays exact: the agent's text comes back as it was sent
        assert main(["--url", h.url, "--json", "call", "echo", ON_THE_WIRE]) == 0
        out = capsys.readouterr().out
        assert json.loads(out) == ON_THE_WIRE.replace("\r", "\n")  # XML itself normalises CR
