# ruff: noqa
# A deliberately bad host-side file: every construct below is refused by tools/py24_gate.py.
# It is never imported; tests/host/test_gate.py runs the gate on it and expects each line reported.
import json
import hashlib
from functools import wraps
from . import sibling
from collections import namedtuple


@wraps
class Decorated(object):
    pass


def everything(path, items, *args, key=None):
    try:
        data = open(path).read()
    except IOError as e:
        data = str(e)
    finally:
        pass
    with open(path) as f:
        f.read()
    mode = 0o755
    flags = 0b101
    raw = b"bytes"
    kind = "a" if data else "b"
    unique = {x for x in items}
    mapping = {x: 1 for x in items}
    literal = {1, 2}
    text = "{0}".format(path)
    head, sep, tail = path.partition("/")
    ok = any(items) and all(items)
    first = next(iter(items))
    ends = path.endswith((".py", ".pyc"))
    print("a", "b")
    return mode, flags, raw, kind, unique, mapping, literal, text, head, ok, first, ends, json, hashlib


def generator(path):
    try:
        yield path
    finally:
        pass
