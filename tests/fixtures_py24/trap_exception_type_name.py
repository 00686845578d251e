# ruff: noqa
# A deliberately bad host-side file: on Python 2.4 exceptions are old-style classes, so type(e) is
# <type 'instance'> and type(e).__name__ says "instance". tools/py24_gate.py must refuse both lines.
import sys


def describe(func):
    try:
        func()
    except Exception:
        e = sys.exc_info()[1]
        return type(e).__name__


def describe_inline(func):
    try:
        func()
    except Exception:
        caught = sys.exc_info()[1]
        return "%s: %s" % (type(caught).__name__, type(sys.exc_info()[1]).__name__)
