"""The simulated agents in their own process, so client and server CPU are measured apart.

Protocol (one JSON object per line): the parent writes the settings on stdin (the password travels
there, never in argv); the child starts the hosts and answers with their URLs. Then the parent writes
commands: ``cpu`` (the child answers its own CPU seconds, every thread), ``quit``.
:class:`SimProcess` is the parent's side.
"""
import json
import os
import secrets
import subprocess
import sys
import time

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class SimProcess:
    """Start ``count`` simulated agents in a child process; a context manager.

    :param vms_per_host: running domains seeded on each host (see :mod:`bench.seed`).
    :param stats: make sure every host answers ``ovs_dom0_stats``/``ovs_domU_stats`` from the agent
        module the simulator hosts (the child fails when the module is not there).
    """

    def __init__(self, count=1, tls=False, fleet=False, version="3.3", vms_per_host=0, stats=False):
        self.settings = {"count": count, "tls": tls, "fleet": fleet, "version": version,
                         "vms_per_host": vms_per_host, "stats": stats}
        self.password = secrets.token_urlsafe(18)
        self.proc = None
        self.info = None

    def __enter__(self):
        env = dict(os.environ)
        env["PYTHONPATH"] = REPO_ROOT + os.pathsep + env.get("PYTHONPATH", "")
        self.proc = subprocess.Popen([sys.executable, "-m", "bench.simproc"], cwd=REPO_ROOT, env=env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
        self._send(dict(self.settings, password=self.password))
        self.info = self._receive()
        if "error" in self.info:
            self.__exit__(None, None, None)
            raise RuntimeError("simulator process failed: %s" % self.info["error"])
        return self

    def __exit__(self, *exc):
        if self.proc is None:
            return
        try:
            self._send({"cmd": "quit"})
            self.proc.wait(timeout=30)
        except (OSError, subprocess.TimeoutExpired, ValueError):
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    @property
    def hosts(self):
        """``[{"url", "name", "fingerprint", "vms": [names]}]``, one per host."""
        return self.info["hosts"]

    @property
    def user(self):
        return self.info["user"]

    @property
    def cert_file(self):
        return self.info.get("cert_file")

    @property
    def stats_source(self):
        return self.info.get("stats_source")

    def cpu(self):
        """CPU seconds the simulator process used so far (all of its threads)."""
        self._send({"cmd": "cpu"})
        return self._receive()["cpu"]

    def client(self, index=0, **kw):
        """An :class:`ovm3.client.AgentClient` for host ``index`` (pinned to its certificate with TLS)."""
        from ovm3.client import AgentClient

        h = self.hosts[index]
        kw.setdefault("agent_version", self.settings["version"])
        if h["fingerprint"]:
            kw.setdefault("fingerprint", h["fingerprint"])
        return AgentClient(h["url"], user=self.user, password=self.password, **kw)

    def _send(self, obj):
        self.proc.stdin.write(json.dumps(obj) + "\n")
        self.proc.stdin.flush()

    def _receive(self):
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("simulator process exited (code %s)" % self.proc.poll())
        return json.loads(line)


def _serve(settings, out):
    from ovm3.sim import simulated_agents

    from bench import seed

    with simulated_agents(count=settings["count"], version=settings["version"], tls=settings["tls"],
                          password=settings["password"], fleet=settings["fleet"],
                          heartbeat=False) as hosts:  # no daemons: the fleet benchmark measures the agents
        described = []
        for h in hosts:
            names = seed.add_vms(h.state, settings["vms_per_host"]) if settings["vms_per_host"] else []
            if settings["stats"] and "ovs_dom0_stats" not in h.dispatcher.services:
                raise RuntimeError("%s does not host the agent module (ovs_dom0_stats missing)" % h.name)
            described.append({"url": h.url, "name": h.name, "fingerprint": h.fingerprint, "vms": names})
        source = "the agent module (ovm3_agent_stats, hosted by the simulator)" if settings["stats"] else None
        cert = os.path.join(hosts.root, "tls", "certificate.pem") if settings["tls"] else None
        out({"hosts": described, "user": hosts[0].user, "cert_file": cert, "stats_source": source})
        for line in sys.stdin:
            cmd = json.loads(line).get("cmd")
            if cmd == "cpu":
                out({"cpu": time.process_time()})
            elif cmd == "quit":
                break


def main():
    def out(obj):
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()

    settings = json.loads(sys.stdin.readline())
    try:
        _serve(settings, out)
    except Exception as e:  # noqa: BLE001 - reported to the parent, which raises
        out({"error": "%s: %s" % (type(e).__name__, e)})
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
