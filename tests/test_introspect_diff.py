"""The snapshot diff: every finding kind on hand-made snapshot pairs, formats, ``ovm3 introspect diff``."""
import ast
import json

import pytest

from ovm3.cli.main import main
from ovm3.hostfiles import flat_import
from ovm3.tools import diff, snapshot

ovm3_apidump = flat_import("hostlib", "ovm3_apidump")


def param(spec):
    """``name``, ``~name``, ``name:type``, ``name=literal`` (a default), combined: ``~x:int=3``."""
    known = not spec.startswith("~")
    spec = spec.lstrip("~")
    default = None
    if "=" in spec:
        spec, literal = spec.split("=", 1)
        default = ovm3_apidump.describe_default(ast.literal_eval(literal))
    name, _, type_ = spec.partition(":")
    p = {"name": name, "name_known": known}
    if type_:
        p["type"] = type_
    if default is not None:
        p["default"] = default
    return p


def svc(name, *params, module="agent.api.m", cls="M", varargs=None, error=None):
    d = {"name": name, "module": module, "class": cls, "function": name, "doc": None,
         "params": [param(p) for p in params], "varargs": varargs, "kwargs": None}
    if error:
        d["error"] = error
    return d


def snap(*services, version="3.2", label=None):
    data = snapshot.build(list(services), version, "%s.1" % version, host="ovm-1", source="ssh")
    return snapshot.Snapshot(data, label or "v%s.json" % version)


def findings(old_services, new_services):
    return diff.diff(snap(*old_services), snap(*new_services, version="3.3"))


def ids(found):
    return sorted((f.id, f.service, f.param) for f in found)


# (case name, old services, new services, expected (id, service, param) findings)
CASES = [
    ("identical", [svc("a", "x", "y=1")], [svc("a", "x", "y=1")], []),
    ("service-removed", [svc("a"), svc("b")], [svc("a")], [("service-removed", "b", None)]),
    ("service-added", [svc("a")], [svc("a"), svc("b", "x")], [("service-added", "b", None)]),
    ("module-moved", [svc("a", module="agent.api.x", cls="X")], [svc("a", module="agent.api.y", cls="X")],
     [("module-moved", "a", None)]),
    ("class-renamed is module-moved", [svc("a", cls="X")], [svc("a", cls="Y")],
     [("module-moved", "a", None)]),
    ("param-added-required", [svc("a", "x")], [svc("a", "x", "y")], [("param-added-required", "a", "y")]),
    ("param-added-optional", [svc("a", "x")], [svc("a", "x", "y=3")], [("param-added-optional", "a", "y")]),
    ("param-removed", [svc("a", "x", "y")], [svc("a", "x")], [("param-removed", "a", "y")]),
    ("param-renamed", [svc("a", "x", "y")], [svc("a", "x", "z")], [("param-renamed", "a", "y")]),
    ("param-reordered", [svc("a", "x", "y")], [svc("a", "y", "x")],
     [("param-reordered", "a", "x"), ("param-reordered", "a", "y")]),
    ("optional inserted before others shifts them", [svc("a", "x", "y=1")], [svc("a", "n=0", "x", "y=1")],
     [("param-added-optional", "a", "n"), ("param-reordered", "a", "x"), ("param-reordered", "a", "y")]),
    ("kind-changed per parameter", [svc("a", "x:str", "y:int")], [svc("a", "x:str", "y:struct")],
     [("kind-changed", "a", "y")]),
    ("kind-changed strings to one struct", [svc("t", "uuid:str", "url:str")], [svc("t", "~ownership:struct")],
     [("kind-changed", "t", None)]),
    ("any matches every type", [svc("a", "x:any")], [svc("a", "x:struct")], []),
    ("default-changed", [svc("a", "x", "t=3")], [svc("a", "x", "t=10")], [("default-changed", "a", "t")]),
    ("default type change is a change", [svc("a", "t=1")], [svc("a", "t=True")],
     [("default-changed", "a", "t")]),
    ("param-now-required", [svc("a", "x", "t=3")], [svc("a", "x", "t")], [("param-now-required", "a", "t")]),
    ("param-now-optional", [svc("a", "x", "t")], [svc("a", "x", "t=3")], [("param-now-optional", "a", "t")]),
    ("varargs-removed", [svc("a", "x", varargs="rest")], [svc("a", "x")], [("varargs-removed", "a", None)]),
    ("varargs-added", [svc("a", "x")], [svc("a", "x", varargs="rest")], [("varargs-added", "a", None)]),
    ("unknown names: matched by position", [svc("a", "~p:str", "~q:str")], [svc("a", "~r:str", "~s:str")],
     []),
    ("unknown names: positional removal", [svc("a", "~p", "~q")], [svc("a", "~p")],
     [("param-removed", "a", "q")]),
    ("unknown names: positional addition", [svc("a", "~p")], [svc("a", "~p", "~q=None")],
     [("param-added-optional", "a", "q")]),
    ("service-unreadable", [svc("a", "x")], [svc("a", error="no Python signature")],
     [("service-unreadable", "a", None)]),
]


@pytest.mark.parametrize("name,old,new,expected", CASES, ids=[c[0] for c in CASES])
def test_finding_kinds(name, old, new, expected):
    assert ids(findings(old, new)) == sorted(expected)


def test_every_finding_kind_is_covered_by_a_case():
    produced = {e[0] for c in CASES for e in c[3]} | {"module-unreadable"}
    assert produced == set(diff.KINDS)


def test_module_unreadable_is_reported():
    broken = {"name": None, "module": "agent.api.cluster", "class": "O2CB", "error": "ImportError: o2cb"}
    found = findings([svc("a")], [svc("a"), broken])
    assert [(f.id, f.level, f.service) for f in found] == [
        ("module-unreadable", "WARN", "agent.api.cluster.O2CB")]


def test_levels_and_keys_are_stable():
    found = findings([svc("a", "x", "y", "t=1"), svc("gone")],
                     [svc("a", "x", "t=2"), svc("new", "z")])
    by_key = {f.key: f.level for f in found}
    assert by_key == {
        "service-removed:gone": "ERR",
        "param-removed:a:y": "ERR",
        "param-reordered:a:t": "ERR",
        "default-changed:a:t": "WARN",
        "service-added:new": "INFO",
    }
    assert [f.level for f in found] == sorted((f.level for f in found), key=diff.level_rank)


def test_real_dump_defaults_compare_by_value_or_repr():
    # A Python 2 dump shows a long as 1099511627776L without a value; a 3.x dump the same number.
    old = svc("a", "x")
    old["params"][0]["default"] = {"type": "int", "repr": "1099511627776L"}
    new = svc("a", "x")
    new["params"][0]["default"] = {"type": "int", "repr": "1099511627776"}
    assert findings([old], [new]) == []
    new["params"][0]["default"] = {"type": "int", "repr": "5"}
    assert ids(findings([old], [new])) == [("default-changed", "a", "x")]


def test_shipped_snapshots_report_take_ownership_as_err():
    old = snapshot.load(snapshot.shipped_path("3.2"))
    new = snapshot.load(snapshot.shipped_path("3.3"))
    found = diff.diff(old, new)
    take = [f for f in found if f.service == "take_ownership"]
    assert take and all(f.level == "ERR" for f in take)
    assert [f.id for f in take] == ["kind-changed"]
    assert "manager_uuid:str" in take[0].old and "struct" in take[0].new
    assert ("param-added-required", "update_agent_password") in {(f.id, f.service) for f in found}
    assert diff.diff(new, snapshot.load(snapshot.shipped_path("3.4"))) == []


# ---- formats ----------------------------------------------------------------------------------------------

def _pair():
    old = snap(svc("a", "x", "y", "t=1"), svc("gone"))
    new = snap(svc("a", "x", "t=2"), svc("new", "z"), version="3.3")
    return old, new, diff.diff(old, new)


def validate_report(doc):
    """The documented JSON schema (README, "Introspection"), checked by hand."""
    assert doc["schema"] == "ovm3-api-diff" and doc["schema_version"] == 1
    assert doc["status"] in ("clean", "findings")
    for side in ("old", "new"):
        s = doc[side]
        assert set(s) == {"path", "agent_version", "ovm_version", "host", "source", "synthetic", "services"}
        assert isinstance(s["services"], int) and isinstance(s["synthetic"], bool)
    assert set(doc["summary"]) == {"ERR", "WARN", "INFO", "total"}
    assert doc["summary"]["total"] == len(doc["findings"])
    for f in doc["findings"]:
        assert set(f) == {"id", "level", "key", "service", "param", "text", "old", "new"}
        assert f["id"] in diff.KINDS and f["level"] == diff.KINDS[f["id"]][0]
        assert f["key"].startswith(f["id"] + ":" + f["service"])
        for k in ("param", "old", "new"):
            assert f[k] is None or isinstance(f[k], str)
    assert sum(doc["summary"][lvl] for lvl in diff.LEVELS) == doc["summary"]["total"]


def test_json_format_follows_the_schema():
    old, new, found = _pair()
    doc = json.loads(diff.to_json(old, new, found))
    validate_report(doc)
    assert doc["status"] == "findings"
    assert doc["summary"] == {"ERR": 3, "WARN": 1, "INFO": 1, "total": 5}
    assert doc["old"]["agent_version"] == "3.2" and doc["new"]["agent_version"] == "3.3"
    clean = json.loads(diff.to_json(old, old, []))
    validate_report(clean)
    assert clean["status"] == "clean"


def test_text_format_groups_by_level():
    old, new, found = _pair()
    text = diff.to_text(old, new, found)
    assert text.index("ERR (3)") < text.index("WARN (1)") < text.index("INFO (1)")
    assert "[service-removed] gone" in text
    assert "3 ERR, 1 WARN, 1 INFO" in text
    assert "no changes" not in text
    assert "no changes: 2 services compared" in diff.to_text(old, old, [])


def test_markdown_format():
    old, new, found = _pair()
    md = diff.to_markdown(old, new, found)
    assert md.startswith("## API changes: agent 3.2 to 3.3\n")
    assert "### Breaking (ERR)" in md and "### Compatible additions (INFO)" in md
    assert "(`param-removed`)" in md
    # Markdown specials in service names are escaped.
    o = snap(svc("take_ownership", "a"))
    n = snap(version="3.3")
    assert "take\\_ownership" in diff.to_markdown(o, n, diff.diff(o, n))


# ---- the command and its exit codes ------------------------------------------------------------------------

@pytest.fixture
def files(tmp_path):
    def write(name, data):
        p = tmp_path / name
        p.write_text(data if isinstance(data, str) else snapshot.dumps(data.data))
        return str(p)
    return write


def run(capsys, *argv):
    rc = main(list(argv))
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_exit_codes(files, capsys):
    old = files("old.json", snap(svc("a", "x=0"), svc("b")))
    same = files("same.json", snap(svc("a", "x=0"), svc("b")))
    info = files("info.json", snap(svc("a", "x=0"), svc("b"), svc("c")))
    warn = files("warn.json", snap(svc("a", "x=1"), svc("b")))
    err = files("err.json", snap(svc("a", "x=0")))
    assert run(capsys, "introspect", "diff", old, same, "--fail-on", "INFO")[0] == 0
    assert run(capsys, "introspect", "diff", old, err)[0] == 0          # no --fail-on: report only
    assert run(capsys, "introspect", "diff", old, err, "--fail-on", "ERR")[0] == 3
    assert run(capsys, "introspect", "diff", old, err, "--fail-on", "err")[0] == 3
    assert run(capsys, "introspect", "diff", old, info, "--fail-on", "ERR")[0] == 0
    assert run(capsys, "introspect", "diff", old, info, "--fail-on", "WARN")[0] == 0
    assert run(capsys, "introspect", "diff", old, info, "--fail-on", "INFO")[0] == 3
    assert run(capsys, "introspect", "diff", old, warn, "--fail-on", "ERR")[0] == 0
    assert run(capsys, "introspect", "diff", old, warn, "--fail-on", "WARN")[0] == 3


def test_shipped_3_2_to_3_3_fails_on_err(capsys):
    rc, out, _ = run(capsys, "introspect", "diff", snapshot.shipped_path("3.2"), snapshot.shipped_path("3.3"),
                     "--fail-on", "ERR")
    assert rc == 3
    assert "[kind-changed] take_ownership" in out


UNREADABLE = {
    "not json": "{nope",
    "not an object": "[]",
    "other schema": json.dumps({"schema": "openapi", "schema_version": 1, "services": []}),
    "future schema version": json.dumps({"schema": "ovm3-api-snapshot", "schema_version": 99,
                                         "services": []}),
    "service twice": json.dumps({"schema": "ovm3-api-snapshot", "schema_version": 1,
                                 "services": [{"name": "a", "params": []}, {"name": "a", "params": []}]}),
    "bad param": json.dumps({"schema": "ovm3-api-snapshot", "schema_version": 1,
                             "services": [{"name": "a", "params": [{"nom": "x"}]}]}),
}


@pytest.mark.parametrize("case", sorted(UNREADABLE))
def test_unreadable_snapshot_exits_1_and_never_says_no_changes(files, capsys, case):
    good = files("good.json", snap(svc("a")))
    bad = files("bad.json", UNREADABLE[case])
    for argv in ([good, bad], [bad, good]):
        rc, out, err = run(capsys, "introspect", "diff", *argv, "--fail-on", "ERR")
        assert rc == 1
        assert "no changes" not in out and out == ""
        assert "bad.json" in err


def test_missing_file_exits_1(files, capsys, tmp_path):
    good = files("good.json", snap(svc("a")))
    rc, out, err = run(capsys, "introspect", "diff", good, str(tmp_path / "absent.json"))
    assert rc == 1 and "cannot read snapshot" in err and out == ""


@pytest.mark.parametrize("argv", [
    ["introspect", "diff"],
    ["introspect", "diff", "a.json"],
    ["introspect", "diff", "a.json", "b.json", "--fail-on", "FATAL"],
    ["introspect", "diff", "a.json", "b.json", "--format", "yaml"],
])
def test_usage_errors_exit_2(capsys, argv):
    assert run(capsys, *argv)[0] == 2


def test_formats_on_the_command_line(files, capsys, tmp_path):
    old = files("old.json", snap(svc("a", "x"), svc("b")))
    new = files("new.json", snap(svc("a"), svc("c"), version="3.3"))
    rc, out, _ = run(capsys, "introspect", "diff", old, new, "--format", "json")
    validate_report(json.loads(out))
    rc, out, _ = run(capsys, "--json", "introspect", "diff", old, new)
    assert json.loads(out)["summary"]["ERR"] == 2
    rc, out, _ = run(capsys, "introspect", "diff", old, new, "--format", "markdown")
    assert out.startswith("## API changes")
    report = tmp_path / "report.md"
    rc, out, _ = run(capsys, "introspect", "diff", old, new, "--format", "markdown", "--out", str(report),
                     "--fail-on", "ERR")
    assert rc == 3 and out == "" and report.read_text().startswith("## API changes")
