"""Print a JSON snapshot of every service the local ovs-agent exposes (run with dom0's own Python).

Upload this file together with hostlib/ovm3_apidump.py and hostlib/ovm3_compat.py (which the walker
imports) into one directory and run
``python ovm3_dump_api.py [--agent-path DIR] [--version V]``; ``ovm3 introspect dump --via ssh`` does
exactly that. Exit status: 0 ok, 1 the agent package could not be read, 2 usage.
"""
import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

import ovm3_apidump  # noqa: E402  (a flat host-side module uploaded beside this file)

if __name__ == "__main__":
    sys.exit(ovm3_apidump.main(sys.argv[1:]))
