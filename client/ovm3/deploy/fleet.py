"""Run one job per host on a bounded thread pool; one failing host never stops the others.

``run_fleet(hosts, job)`` returns one :class:`~ovm3.deploy.engine.HostResult` per host, in input order.
A job that raises an :class:`ovm3.errors.OVM3Error` becomes a ``failed`` row with the error's message
(which never holds secrets); any other exception becomes a ``failed`` row naming its type.
"""
import concurrent.futures
import logging
import threading

from ovm3.deploy.engine import HostResult
from ovm3.errors import OVM3Error

log = logging.getLogger(__name__)

DEFAULT_WORKERS = 8


def run_fleet(hosts, job, workers=DEFAULT_WORKERS, progress=None):
    """Call ``job(host)`` for every host, at most ``workers`` at a time.

    :param hosts: objects with a ``name`` attribute (inventory entries).
    :param progress: called as ``progress(done, total, result)`` after each host finishes.
    """
    hosts = list(hosts)
    results = [None] * len(hosts)
    done = [0]
    lock = threading.Lock()

    def one(index):
        host = hosts[index]
        try:
            result = job(host)
        except OVM3Error as e:
            result = HostResult(host.name, status="failed", reason=str(e))
        except Exception as e:  # a bug or a library error: report it, keep the fleet going
            log.exception("%s: unexpected failure", host.name)
            result = HostResult(host.name, status="failed", reason="%s: %s" % (type(e).__name__, e))
        results[index] = result
        with lock:
            done[0] += 1
            if progress:
                progress(done[0], len(hosts), result)
        return result

    if not hosts:
        return []
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, min(workers, len(hosts))),
                                               thread_name_prefix="ovm3-deploy") as pool:
        list(pool.map(one, range(len(hosts))))
    return results


def summary_rows(results):
    """Rows for the final table: host, status, OVM version, files and bytes uploaded, reason."""
    rows = []
    for r in results:
        rows.append({"host": r.host, "status": r.status, "ovm": r.ovm_version, "files": len(r.uploaded),
                     "bytes": r.bytes_uploaded, "reason": r.reason})
    return rows


def all_ok(results):
    """True when no host failed."""
    return all(r.status != "failed" for r in results)
