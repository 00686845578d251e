"""The CloudStack wing stands on the typed client (issue 20).

* No code in ``ovm3/cloudstack/`` or ``ovm3/cli/`` names an agent wire method as a string or calls
  ``.call(``: it reaches the agent through the typed mirrors (``client.xen.migrate_vm(...)``), so
  ``grep migrate_vm`` finds every use and the table's checks cover them. ``ovm3 call`` (cli/cmd_call.py),
  the raw escape hatch, is the one exception.
* The cloudstack modules import each other without a cycle, counting imports inside functions too.
"""

import ast
import os

from ovm3.api import TABLE

ROOT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "client", "ovm3")
CLOUDSTACK = os.path.join(ROOT, "cloudstack")
CLI = os.path.join(ROOT, "cli")
RAW_CALL_COMMAND = os.path.join(CLI, "cmd_call.py")

#: (file, literal): strings that equal a wire name but mean something else, with the reason.
NOT_WIRE_NAMES = {
    # ``ovm3 serve`` answers POST /ping and /startup with the host reports (HostResource.ping/startup).
    ("cloudstack/protocol.py", "ping"),
    # the ``ovm3 call`` command's own name, registered by the CLI's command list.
    ("cli/main.py", "call"),
}


def _sources(*folders):
    for folder in folders:
        for name in sorted(os.listdir(folder)):
            if name.endswith(".py"):
                yield os.path.join(folder, name)


def _tree(path):
    with open(path, encoding="utf-8") as f:
        return ast.parse(f.read(), path)


def _rel(path):
    return os.path.relpath(path, ROOT).replace(os.sep, "/")


def _wire_literals(path):
    wires = set(TABLE.by_wire)
    for node in ast.walk(_tree(path)):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in wires:
            if (_rel(path), node.value) not in NOT_WIRE_NAMES:
                yield "%s:%d: %r" % (_rel(path), node.lineno, node.value)


def _raw_calls(path):
    for node in ast.walk(_tree(path)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "call":
            yield "%s:%d: .call(" % (_rel(path), node.lineno)


def test_no_wire_name_literal_in_the_cloudstack_wing_or_the_cli():
    found = [hit for path in _sources(CLOUDSTACK, CLI) if path != RAW_CALL_COMMAND for hit in _wire_literals(path)]
    assert found == []


def test_no_raw_agent_call_in_the_cloudstack_wing_or_the_cli():
    found = [hit for path in _sources(CLOUDSTACK, CLI) if path != RAW_CALL_COMMAND for hit in _raw_calls(path)]
    assert found == []


def test_the_checks_above_see_what_they_forbid(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text('def f(r):\n    return r.client.call("migrate_vm", "a")\n')
    assert len(list(_wire_literals(str(bad)))) == 1 and len(list(_raw_calls(str(bad)))) == 1


def _module_name(path):
    return "ovm3.cloudstack" if path.endswith("__init__.py") else "ovm3.cloudstack." + os.path.basename(path)[:-3]


def _imports(path, modules):
    """The cloudstack modules ``path`` imports anywhere in its body (functions included)."""
    out = set()
    for node in ast.walk(_tree(path)):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + ["%s.%s" % (node.module, a.name) for a in node.names]
        for name in names:
            if name in modules and name != "ovm3.cloudstack":
                out.add(name)
            elif name == "ovm3.cloudstack" and isinstance(node, ast.Import):
                out.add(name)
    return out


def import_graph():
    paths = list(_sources(CLOUDSTACK))
    modules = {_module_name(p) for p in paths}
    return {_module_name(p): _imports(p, modules) for p in paths}


def find_cycle(graph):
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                cycle = visit(nxt)
                if cycle:
                    return cycle
        stack.pop()
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def test_the_cloudstack_modules_import_each_other_without_a_cycle():
    graph = import_graph()
    assert "ovm3.cloudstack.dispatch" in graph["ovm3.cloudstack.resource"]
    assert find_cycle(graph) is None


def test_the_front_module_is_imported_by_no_handler_module():
    assert [m for m, deps in import_graph().items() if "ovm3.cloudstack.resource" in deps] == []


def test_the_cycle_finder_finds_a_cycle_hidden_in_a_function():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
