"""A heartbeat record written under Python 2.7 verifies under Python 3, and the reverse (crc32 is
signed on Python 2 and unsigned on 3; the record stores ``zlib.crc32(data) & 0xffffffff``)."""
import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PY27 = os.path.expanduser("~/.pyenv/versions/2.7.18/bin/python")

SCRIPT = r'''
import sys
sys.path[:0] = [%(hostlib)r, %(fencing)r]
import ovm3_hb_record
mode, mount = sys.argv[1], sys.argv[2]
if mode == "write":
    # a seq whose record's crc32 has the top bit set: signed on Python 2, the case that differs
    for seq in range(1, 10000):
        rec = {"guid": "cross", "instance": "00ff00ff00ff00ff", "seq": seq, "interval": 0.2, "timeout": 1.0,
               "policy": "any", "mounts": 1, "time": "1.000", "state": "running", "fence": "crash",
               "watchdog": "armed", "watchdog_timeout": 5.0, "conflict": "0", "boot": "b"}
        data = ovm3_hb_record.format_record(rec)
        if int(data.decode("ascii", "replace").split("crc=")[1][:8] if not isinstance(data, str)
               else data.split("crc=")[1][:8], 16) >= 2 ** 31:
            break
    ovm3_hb_record.write_heartbeat(mount, "cross", rec)
    print(seq)
else:
    print(ovm3_hb_record.read_record(mount + "/.hb-cross")["seq"])
''' % {"hostlib": os.path.join(REPO, "hostlib"), "fencing": os.path.join(REPO, "fencing")}


def run(python, mode, mount):
    out = subprocess.run([python, "-c", SCRIPT, mode, str(mount)], capture_output=True, text=True, timeout=60,
                         env=dict(os.environ, PYENV_VERSION="2.7.18"))
    assert out.returncode == 0, out.stderr
    return int(out.stdout.strip())


@pytest.mark.skipif(not os.path.exists(PY27), reason="needs Python 2.7.18 (pyenv)")
@pytest.mark.parametrize("writer,reader", [("py27", "py3"), ("py3", "py27")])
def test_a_record_verifies_across_python_versions(tmp_path, writer, reader):
    pythons = {"py27": PY27, "py3": sys.executable}
    written = run(pythons[writer], "write", tmp_path)
    assert run(pythons[reader], "read", tmp_path) == written
