# ruff: noqa
# A deliberately bad host test: every unittest feature below is missing from Python 2.4's unittest.
# tools/py24_gate.py must refuse each.
import unittest


class Newer(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        pass

    def setUp(self):
        self.addCleanup(lambda: None)

    @unittest.skip("not on this host")
    def test_skipped(self):
        pass

    @unittest.skipIf(True, "never")
    def test_skip_if(self):
        pass

    def test_asserts(self):
        self.assertIn(1, [1])
        self.assertIsNone(None)
        self.assertIsInstance(1, int)
        self.assertNotIn(2, [1])
        self.assertGreater(2, 1)
        self.skipTest("nope")

    def test_raises_as_context_manager(self):
        cm = self.assertRaises(ValueError)
        cm.__enter__()
