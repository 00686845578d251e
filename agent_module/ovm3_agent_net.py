"""Network services: port probes, address checks, ping and the control-network route.

Python 2.4-compatible, stdlib only; commands run as argv lists with fixed programs and timeouts.
"""
import ovm3_agent_base as base
import ovm3_agent_validate as check
import ovm3_compat

#: Longest probe a caller may ask for (seconds).
MAX_PROBE = 60
#: The control network system VMs live on; ovs_control_interface may only route inside it.
CONTROL_NET = ("169.254.0.0", 16)
IFCFG = "/etc/sysconfig/network-scripts/ifcfg-%s"


def check_dom0_port(ip, port, timeout=3):
    """True when a TCP connection to ``ip:port`` opens within ``timeout`` seconds."""
    ip = check.ipv4("ip", ip)
    port = check.port("port", port)
    timeout = check.integer("timeout", timeout, 1, MAX_PROBE)
    return bool(base.host().tcp_connect(ip, port, timeout))


def check_domr_port(ip, port=3922, timeout=3):
    """True when a system VM's port (SSH on 3922 by default) accepts TCP within ``timeout`` seconds."""
    return check_dom0_port(ip, port, timeout)


def check_dom0_ip(ip):
    """True when ``ip`` is configured on one of this host's interfaces."""
    ip = check.ipv4("ip", ip)
    for dev, address in base.host().ipv4_addresses():
        if address.split("/")[0] == ip:
            return True
    return False


def ping(host, count=3):
    """True when ``host`` answers ICMP echo (``count`` probes, 2 s wait each)."""
    target = check.hostname_or_ip("host", host)
    count = check.integer("count", count, 1, 10)
    argv = [base.setting("ping"), "-n", "-q", "-c", str(count), "-W", "2", target]
    try:
        rc, out, err = base.host().run(argv, count * 3 + 5)
    except ovm3_compat.CommandTimeout:
        return False
    return rc == 0


def _in_control_net(address, prefix):
    net, bits = CONTROL_NET
    mask = (0xffffffff << (32 - bits)) & 0xffffffff
    return prefix >= bits and (check.ipv4_int(address) & mask) == check.ipv4_int(net)


def _ip(argv):
    host = base.host()
    rc, out, err = host.run([base.setting("ip")] + argv, 15)
    if rc != 0:
        raise base.ServiceError("ovs_control_interface: ip %s failed (rc %d): %s"
                                % (" ".join(argv), rc, err.strip()[:300]))


def ovs_control_interface(dev, cidr):
    """Route the control network ``cidr`` (inside 169.254.0.0/16) via ``dev`` only, with ARP on.

    Routes to ``cidr`` on other devices are removed, the route on ``dev`` added when missing, and the
    device's ifcfg file removed so the control bridge is not brought up at boot (as CloudStack does).
    """
    dev = check.device("dev", dev)
    address, prefix = check.cidr("cidr", cidr)
    if not _in_control_net(address, prefix):
        raise check.InvalidArgument("cidr", "must lie inside the control network 169.254.0.0/16, got %r" % cidr)
    network = "%s/%d" % (address, prefix)
    host = base.host()
    present = False
    for dest, on_dev in host.ipv4_routes():
        if dest in (network, address) or (prefix == 32 and dest == address):
            if on_dev == dev:
                present = True
            else:
                _ip(["route", "del", network, "dev", on_dev])
    if not present:
        _ip(["route", "add", network, "dev", dev])
    _ip(["link", "set", "dev", dev, "arp", "on"])
    ifcfg = IFCFG % dev
    if host.isfile(ifcfg):
        host.remove(ifcfg)
    return True


SERVICES = {
    "check_dom0_port": check_dom0_port,
    "check_domr_port": check_domr_port,
    "check_dom0_ip": check_dom0_ip,
    "ping": ping,
    "ovs_control_interface": ovs_control_interface,
}
