"""What `pip install .` ships: every management package, and the host-side files as package data."""
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_every_folder_of_python_code_is_a_package():
    # setup.py ships what find_packages finds: a folder without __init__.py would be missing from a wheel
    # (it still imports from a checkout, as a namespace package, which hides the loss).
    missing = []
    for base in ("client/ovm3", "tools"):
        for folder, dirs, files in os.walk(os.path.join(ROOT, base)):
            dirs[:] = [d for d in dirs if d != "__pycache__"]
            if any(f.endswith(".py") for f in files) and "__init__.py" not in files:
                missing.append(os.path.relpath(folder, ROOT))
    assert missing == []


def test_host_side_files_are_found_through_the_package():
    from ovm3 import hostfiles

    names = {os.path.basename(p) for folder in hostfiles.FOLDERS for p in hostfiles.files(folder)}
    assert {"ovm3_agent.py", "ovm3_hostio.py", "ovm3_heartbeat.py", "ovm3-heartbeat.init",
            "ovm3_compat.py", "ovm3_apidump.py"} <= names
    assert not any(n.endswith((".pyc", ".pyo")) or n == "__init__.py" for n in names)


_WITHOUT_EXTRAS = """
import sys
sys.modules["paramiko"] = None      # what a plain `pip install ovm3` lacks: importing them fails
sys.modules["cryptography"] = None
from ovm3.cli.main import main
sys.exit(main(sys.argv[1:]))
"""


def _cli_without_extras(*argv):
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-c", _WITHOUT_EXTRAS] + list(argv), capture_output=True,
                          text=True, timeout=60, cwd=ROOT, stdin=subprocess.DEVNULL)


def test_a_plain_install_without_the_sim_and_deploy_extras_runs_the_client_and_names_the_extra():
    helped = _cli_without_extras("--help")
    assert helped.returncode == 0 and "deploy" in helped.stdout and "sim" in helped.stdout, helped.stderr
    assert _cli_without_extras("vm", "--help").returncode == 0
    sim = _cli_without_extras("sim", "--hosts", "1")
    assert sim.returncode == 1 and "pip install 'ovm3[sim]'" in sim.stderr and "Traceback" not in sim.stderr
    deploy = _cli_without_extras("deploy", "--dry-run", "127.0.0.1")
    assert deploy.returncode == 1 and "pip install 'ovm3[deploy]'" in deploy.stdout + deploy.stderr
    assert "Traceback" not in deploy.stderr


def test_license_file_classifiers_and_the_conditional_toml_reader():
    from ovm3.profiles import tomllib

    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        project = tomllib.load(f)["project"]
    with open(os.path.join(ROOT, "LICENSE"), encoding="utf-8") as f:
        head = f.read(200).split()
    assert project["license"] == "Apache-2.0" and head[:4] == ["Apache", "License", "Version", "2.0,"]
    assert project["license-files"] == ["LICENSE"]
    assert "Programming Language :: Python :: 3.9" in project["classifiers"]
    assert "tomli>=1.1; python_version < '3.11'" in project["dependencies"]
