"""JSON in the host tests: the project's own reader (hostlib's ``json_loads``, Python 2.4 has no json),
cross-checked against the standard library's json wherever that exists (2.6+), so a bug shared by our
writer and our reader cannot hide."""
import os
import sys

_HOSTLIB = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "hostlib")
if _HOSTLIB not in sys.path:
    sys.path.insert(0, _HOSTLIB)

import ovm3_compat  # noqa: E402

try:
    import json as _stdlib_json  # novm
except ImportError:  # Python 2.4/2.5: our reader alone
    _stdlib_json = None


def loads(text):
    """The value of ``text``; raises AssertionError when the stdlib reader (if any) disagrees."""
    value = ovm3_compat.json_loads(text)
    if _stdlib_json is not None:
        expected = _stdlib_json.loads(text)
        if value != expected:
            raise AssertionError("hostlib's json_loads read %r, the json module %r" % (value, expected))
    return value
