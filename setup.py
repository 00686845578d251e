"""Build configuration that pyproject.toml cannot express: where each package's folder is.

client/ovm3 is the management package. agent_module/, fencing/ and hostlib/ run on dom0 and are shipped
as ovm3.hostfiles.* so deployment finds them in an installed copy; tools/ is ovm3.tools.
"""
from setuptools import find_packages, setup

MAPPED = {
    "ovm3.hostfiles.agent_module": "agent_module",
    "ovm3.hostfiles.fencing": "fencing",
    "ovm3.hostfiles.hostlib": "hostlib",
    "ovm3.tools": "tools",
}

setup(
    packages=find_packages("client") + sorted(MAPPED) + [
        name + "." + sub for name, folder in MAPPED.items() for sub in find_packages(folder)],
    package_dir={"": "client", **MAPPED,
                 **{name + "." + sub: folder + "/" + sub.replace(".", "/")
                    for name, folder in MAPPED.items() for sub in find_packages(folder)}},
)
