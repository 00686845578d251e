# ruff: noqa
# The 2.4-safe spellings of every trap the gate refuses: tools/py24_gate.py must pass this file.
import subprocess
import sys
import threading
import unittest


def describe(func):
    try:
        func()
    except Exception:
        e = sys.exc_info()[1]
        return e.__class__.__name__, type(func).__name__


def start(worker):
    done = threading.Event()
    thread = threading.Thread(target=worker)
    thread.setDaemon(True)
    thread.start()
    while not done.isSet():
        done.wait(0.01)
    rc = subprocess.Popen(["true"]).wait()
    return threading.currentThread(), threading.activeCount(), rc


class Old(unittest.TestCase):
    def test_asserts(self):
        self.assertTrue(1 in [1])
        self.assertEqual(None, None)
        self.assertRaises(ValueError, int, "x")
        self.failUnless(isinstance(1, int))
