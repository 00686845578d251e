"""Build configuration that pyproject.toml cannot express: where each package's folder is.

client/ovm3 is the management package; ovm3._wirec is its optional C decoder of XML-RPC replies (built
when a compiler is at hand; without it ovm3.wire uses its lxml decoder, same results, ~10x slower on
large replies). agent_module/, fencing/ and hostlib/ run on dom0 and are shipped
as ovm3.hostfiles.* so deployment finds them in an installed copy; tools/ is ovm3.tools.
"""
from setuptools import Extension, find_packages, setup

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
    ext_modules=[Extension("ovm3._wirec", ["client/ovm3/_wirec.c"], optional=True,
                           extra_compile_args=["-O2", "-Wall", "-Wextra", "-Wno-missing-field-initializers"])],
)
