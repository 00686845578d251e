"""``ovm3 exporter --textfile DIR``: the exposition written for node_exporter's textfile collector.

The file (``DIR/ovm3.prom``) is replaced atomically (written beside it, then renamed), so the collector
never reads half a file; node_exporter only reads files ending in ``.prom``.
"""

import os
import time

from prometheus_client import CollectorRegistry, write_to_textfile

from ovm3 import errors

FILE_NAME = "ovm3.prom"


def write_once(collector, directory):
    """Sample every host once and write the file; returns its path."""
    if not os.path.isdir(directory):
        raise errors.UsageError("--textfile %s: no such directory" % directory)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    path = os.path.join(directory, FILE_NAME)
    try:
        write_to_textfile(path, registry)
    except OSError as e:
        raise errors.ConfigError("cannot write %s: %s" % (path, e.strerror or e)) from None
    return path


def write_every(collector, directory, interval, stop):
    """Write the file every ``interval`` seconds until ``stop`` (a threading.Event) is set."""
    while not stop.is_set():
        started = time.monotonic()
        write_once(collector, directory)
        stop.wait(max(0.0, interval - (time.monotonic() - started)))
