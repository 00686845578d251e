"""The command line loads lazily: ``ovm3 --help`` imports no command module, a command imports only its
own; the one table of commands matches the modules (fresh processes, since this one has imported them all)."""
import importlib
import json
import os
import pkgutil
import subprocess
import sys

import click

import ovm3.cli
from ovm3.cli.main import COMMANDS, cli

# Runs main(argv) and prints, whatever the exit, which ovm3/heavy modules the process had imported.
PROBE = """
import atexit, json, sys
def loaded():
    names = [m for m in sys.modules if m.startswith(("ovm3.cli.cmd_", "requests", "lxml", "ovm3.api", "paramiko"))]
    sys.stderr.write("\\nLOADED " + json.dumps(sorted(names)) + "\\n")
atexit.register(loaded)
from ovm3.cli.main import main
sys.exit(main(json.loads(sys.argv[1])))
"""


def _run(argv):
    env = dict(os.environ)
    env.pop("OVM3_URL", None)
    env["OVM3_PASSWORD"] = "not-used"
    r = subprocess.run([sys.executable, "-c", PROBE, json.dumps(argv)], capture_output=True, text=True,
                       timeout=120, env=env)
    head, _, tail = r.stderr.rpartition("\nLOADED ")
    return r.returncode, r.stdout, head, json.loads(tail)


def test_the_table_lists_every_command_module_with_its_own_help_line():
    here = os.path.dirname(ovm3.cli.__file__)
    modules = {"ovm3.cli." + m.name for m in pkgutil.iter_modules([here]) if m.name.startswith("cmd_")}
    assert {module for module, _ in COMMANDS.values()} == modules
    for name, (module, help_line) in COMMANDS.items():
        command = importlib.import_module(module).command
        assert command.name == name
        assert click.Command(name, help=help_line).get_short_help_str(1000) == command.get_short_help_str(1000), name


def test_help_lists_every_command_without_importing_one():
    rc, out, err, loaded = _run(["--help"])
    assert rc == 0, err
    for name in COMMANDS:
        assert "\n  %s " % name in out
    assert loaded == [], loaded


def test_a_command_imports_its_own_module_only_and_global_options_still_go_anywhere():
    # --url and --timeout after the subcommand (the operator CLI's option placement), an agent that is not there
    rc, out, err, loaded = _run(["vm", "list", "--url", "http://127.0.0.1:9", "--timeout", "2", "--json"])
    assert rc == 1 and "connection failed" in (out + err), (out, err)
    assert [m for m in loaded if m.startswith("ovm3.cli.cmd_")] == ["ovm3.cli.cmd_vm"]
    assert not [m for m in loaded if m.startswith(("lxml", "paramiko"))], loaded


def test_help_of_one_command_and_unknown_commands_still_work():
    rc, out, err, loaded = _run(["vm", "--help"])
    assert rc == 0 and "list" in out and loaded[:1] == ["ovm3.cli.cmd_vm"]
    rc, out, err, loaded = _run(["no-such-command"])
    assert rc == 2 and "No such command" in err


def test_the_group_in_this_process_lists_the_table():
    assert cli.list_commands(None) == sorted(COMMANDS)


def test_a_repeated_short_global_flag_after_the_subcommand_is_the_global_one():
    # -vv after the subcommand was left to it ("No such option '-v'"); -v and --verbose already worked.
    rc, out, err, loaded = _run(["vm", "list", "--url", "http://127.0.0.1:9", "--timeout", "2", "-vv"])
    assert rc == 1 and "No such option" not in err and "connection failed" in err, err
    assert " DEBUG " in err
