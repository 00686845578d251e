# ruff: noqa
# A deliberately bad host-side file: Event.wait and Condition.wait return None before Python 2.7, so
# a loop that ends on their value never ends on 2.4/2.6. tools/py24_gate.py must refuse every use below.
import threading


def poll(done, cond):
    while True:
        if done.wait(0.01):
            return
        ready = cond.wait(timeout=1.0)
        if ready:
            break
    return not done.wait(0.5)
