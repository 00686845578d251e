"""Shared helpers for the CLI tests (no tests here): run ``ovm3``'s real entry point with captured streams
against simulated agents, and read the simulator's log of mutating calls."""
import json
import os

from click.testing import CliRunner

from ovm3.api import TABLE
from ovm3.cli.main import main


class Ran:
    def __init__(self, code, stdout, stderr):
        self.exit_code, self.stdout, self.stderr = code, stdout, stderr


def run_main(argv, env):
    """``ovm3.cli.main.main`` (exit codes, one-line errors) with captured stdout and stderr."""
    try:  # click 8.1 (the last for Python 3.9) mixes stderr into stdout unless told not to
        runner = CliRunner(mix_stderr=False)
    except TypeError:  # click 8.2+ keeps them apart and dropped the argument
        runner = CliRunner()
    with runner.isolation(env=env) as streams:
        code = main(argv)
        return Ran(code, streams[0].getvalue().decode(), streams[1].getvalue().decode())


def ovm3(host, *args, expect=0):
    """Run ``ovm3 --url <host> ARGS`` and check its exit code."""
    result = run_main(["--url", host.url] + list(args), {"OVM3_PASSWORD": host.password,
                                                          "OVM3_CONFIG": os.devnull})
    assert result.exit_code == expect, (result.stdout, result.stderr)
    return result


def as_json(host, *args, expect=0):
    return json.loads(ovm3(host, "--json", *args, expect=expect).stdout)


def mutating_calls(host):
    """The simulator's log of the calls that change something, as (method, args)."""
    return [(r.method, r.args) for r in host.calls if not TABLE.get(r.method).readonly]


def dry_then_real(host, *args):
    """Run a command as a dry run, then for real; return the dry run's calls, the simulator's log of the
    real run's mutating calls, and the real run's JSON result."""
    host.calls.clear()
    planned = as_json(host, *args, "--dry-run")
    assert planned["dry_run"] is True
    assert mutating_calls(host) == [], "a dry run sent a mutating call"
    done = as_json(host, *args)
    assert done["dry_run"] is False
    return [(c["method"], c["args"]) for c in planned["calls"]], mutating_calls(host), done
