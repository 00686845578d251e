# ruff: noqa
# A deliberately bad host-side file: Python 2.4's threading has only isSet/isAlive/setDaemon and the
# other camelCase names. tools/py24_gate.py must refuse every line below.
import threading


def start(worker):
    done = threading.Event()
    thread = threading.Thread(target=worker)
    thread.daemon = True
    other = threading.Thread(target=worker, daemon=True)
    thread.start()
    if done.is_set() or thread.is_alive():
        return threading.current_thread(), threading.active_count(), other
    return None
