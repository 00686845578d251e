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
