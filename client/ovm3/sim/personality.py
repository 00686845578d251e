"""Version personalities of the simulated agent: what differs between OVM 3.2.1, 3.3.x and 3.4.x.

Facts for 3.2.1 come from the recorded agent replies (Agent_Version 3.2.1-183, OVM_Version 3.2.1-517,
Xen 4.1.3OVM, Oracle Linux 5.7 dom0, Python 2.4). The reference names 3.3 differences only as code
comments (take_ownership takes a struct, ovs_vlan_bridge answers "Added ...", update_agent_password takes
the old password too, dom0 Python 2.6); the 3.3 build strings below are plausible placeholders, not
recordings. The reference has no facts at all on 3.4: that personality is 3.3 with 3.4 version strings.
"""

from dataclasses import dataclass

from ovm3.api import normalise_version


@dataclass(frozen=True)
class Personality:
    """Everything the simulator answers differently per agent generation."""

    api: str  # "3.2" / "3.3" / "3.4": the API table's signature generation
    agent_version: str
    rpm_version: str
    ovm_version: str
    manager_core_api_version: str
    os_major: str
    os_minor: str
    kernel_release: str
    kernel_version: str
    xen_major: str
    xen_minor: str
    xen_extra: str
    python: str  # dom0 Python the agent runs on
    vlan_bridge_start: str  # reply prefix of ovs_vlan_bridge("start", ...)
    legacy_tls: bool  # serves TLS 1.0 with old ciphers
    recorded: bool  # True when the version facts come from real recordings

    @property
    def ownership_struct(self):
        """3.3 and later take one struct in take_ownership."""
        return self.api != "3.2"


PERSONALITIES = {
    "3.2": Personality(
        api="3.2",
        agent_version="3.2.1-183",
        rpm_version="3.2.1-183",
        ovm_version="3.2.1-517",
        manager_core_api_version="3.2.1.516",
        os_major="5",
        os_minor="7",
        kernel_release="2.6.39-300.22.2.el5uek",
        kernel_version="#1 SMP Fri Jan 4 12:40:29 PST 2013",
        xen_major="4",
        xen_minor="1",
        xen_extra=".3OVM",
        python="2.4",
        vlan_bridge_start="start",
        legacy_tls=True,
        recorded=True,
    ),
    "3.3": Personality(
        api="3.3",
        agent_version="3.3.1-276",
        rpm_version="3.3.1-276",
        ovm_version="3.3.1-1065",
        manager_core_api_version="3.3.1.1065",
        os_major="6",
        os_minor="5",
        kernel_release="3.8.13-26.4.2.el6uek",
        kernel_version="#2 SMP Wed Apr 16 18:07:16 PDT 2014",
        xen_major="4",
        xen_minor="3",
        xen_extra=".0OVM",
        python="2.6",
        vlan_bridge_start="Added",
        legacy_tls=False,
        recorded=False,
    ),
    "3.4": Personality(
        api="3.4",
        agent_version="3.4.4-1709",
        rpm_version="3.4.4-1709",
        ovm_version="3.4.4-1709",
        manager_core_api_version="3.4.4.1709",
        os_major="6",
        os_minor="8",
        kernel_release="4.1.12-94.3.9.el6uek",
        kernel_version="#2 SMP Fri Jul 14 20:09:40 PDT 2017",
        xen_major="4",
        xen_minor="4",
        xen_extra=".4OVM",
        python="2.6",
        vlan_bridge_start="Added",
        legacy_tls=False,
        recorded=False,
    ),
}


def personality(version):
    """The personality for ``"3.2"``, ``"3.3.1"``, ``"3.4"``...; refuses unknown generations."""
    return PERSONALITIES[normalise_version(version)]
