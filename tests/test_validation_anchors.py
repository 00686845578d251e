"""No pattern in the code ends in ``$``: it also matches before a trailing newline, so ``"id_rsa\\n"``
would pass a check meant for ``id_rsa``. Anchor with ``\\Z`` (host code, Python 2.4 has it) or use
``re.fullmatch`` (management side). Multi-line patterns (``re.M``) are the one legitimate use."""

import ast
import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TREES = ("agent_module", "fencing", "hostlib", "tools", os.path.join("client", "ovm3"))
RE_FUNCS = {"compile", "match", "search", "fullmatch", "sub", "subn", "split", "findall", "finditer"}


def _sources():
    for tree in TREES:
        for d, _, files in os.walk(os.path.join(ROOT, tree)):
            for f in files:
                if f.endswith(".py"):
                    yield os.path.join(d, f)


def _multiline(call):
    flags = list(call.args[1:]) + [k.value for k in call.keywords if k.arg == "flags"]
    return any("M" in ast.dump(f) and ("MULTILINE" in ast.dump(f) or "'M'" in ast.dump(f)) for f in flags)


def dollar_anchored(source, filename="<src>"):
    """``(line, pattern)`` of every ``re`` call whose literal pattern ends in an unescaped ``$``."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        if node.func.attr not in RE_FUNCS or not node.args:
            continue
        if not (isinstance(node.func.value, ast.Name) and node.func.value.id == "re"):
            continue
        pat = node.args[0]
        if isinstance(pat, ast.Constant) and isinstance(pat.value, str):
            if re.search(r"(?<!\\)\$(?=[)|]|\Z)", pat.value) and not _multiline(node):
                found.append((node.lineno, pat.value))
    return found


def test_the_checker_finds_a_dollar_anchor():
    assert dollar_anchored('import re\nX = re.compile(r"^[a-z]+$")\n') == [(2, "^[a-z]+$")]
    assert dollar_anchored('import re\nre.match(r"^(a|b)$)", s)\n')
    assert dollar_anchored('import re\nre.match(r"^Error$|invalid", s)\n')
    assert dollar_anchored('import re\nX = re.compile(r"^[a-z]+\\Z")\n') == []
    assert dollar_anchored('import re\nX = re.compile(r"price \\$")\n') == []
    assert dollar_anchored('import re\nX = re.compile(r"^a$", re.M)\n') == []


def test_no_validation_pattern_is_anchored_with_dollar():
    offenders = []
    for path in _sources():
        with open(path, encoding="utf-8") as f:
            text = f.read()
        for line, pat in dollar_anchored(text, path):
            offenders.append("%s:%d %r" % (os.path.relpath(path, ROOT), line, pat))
    assert offenders == []
    assert re.match(r"^[a-z]+$", "x\n") is not None  # why: $ accepts the newline, \Z does not
    assert re.match(r"^[a-z]+\Z", "x\n") is None
