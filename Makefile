# The two set-up commands of README's quick start: `make demo` and `make test`. `make bench` is apart.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
# dom0 runs Python 2.4 (OVM 3.2) or 2.6 (OVM 3.3/3.4); the closest real interpreter here is 2.7.
PY27 ?= $(shell if PYENV_VERSION=2.7.18 python -c 'import sys; assert sys.version_info[:2]==(2,7)' >/dev/null 2>&1; then echo 'env PYENV_VERSION=2.7.18 python'; elif command -v python2.7 >/dev/null 2>&1; then echo python2.7; fi)
DEB_PACKAGES := fuse3 libfuse2 openssh-server openssh-client gcc libc6-dev
# Host-side code and the host tests (and their helpers), which a dom0 runs too (ovm3 deploy --self-test).
HOST_SOURCES = $(shell git ls-files 'agent_module/*.py' 'fencing/*.py' 'hostlib/*.py' 'tools/host/*.py' 'tests/host/*.py' 2>/dev/null || ls agent_module/*.py fencing/*.py hostlib/*.py tests/host/*.py)

# The oldest management-side Python we support; its venv runs the client's own tests.
PY39 ?= $(shell if PYENV_VERSION=3.9.18 python -c 'import sys; assert sys.version_info[:2]==(3,9)' >/dev/null 2>&1; then echo 'env PYENV_VERSION=3.9.18 python'; elif command -v python3.9 >/dev/null 2>&1; then echo python3.9; fi)
VENV39 := .venv39
# The lowest requests pyproject.toml allows: the 3.9 venv runs the client core on it.
REQUESTS_FLOOR := $(shell sed -n 's/.*"requests>=\([0-9.]*\),.*/\1/p' pyproject.toml)

.PHONY: venv deb cext fuzz test lint gate test-py3 test-py27 test-py39 demo bench clean

$(VENV)/.installed: pyproject.toml setup.py client/ovm3/_wirec.c
	test -x $(VPY) || $(PY) -m venv $(VENV)
	$(VPY) -m pip install -q --upgrade pip
	$(VPY) -m pip install -q -e '.[test]'
	touch $@

venv: $(VENV)/.installed

# Debian packages the tests need (FUSE for the hanging-mount tests, OpenSSH for the deploy tests, a C
# compiler for the fast XML-RPC decoder, which is optional for users but tested).
deb:
	@missing=""; for p in $(DEB_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then echo "installing Debian packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	  else echo "missing Debian packages:$$missing (run make test as root, or install them)"; exit 1; fi; \
	fi

lint: venv
	$(VPY) -m ruff check client tests tools/*.py setup.py

# Host-side code and host tests must run on dom0's Python 2.4: vermin for library use, our own gate for
# the rest (syntax, newer calls, runtime traps; tests/host/test_gate.py proves it refuses each).
gate: venv
	$(VENV)/bin/vermin --no-tips --violations -t=2.4- -t=3- $(HOST_SOURCES)
	$(VPY) tools/py24_gate.py $(HOST_SOURCES)

test-py27:
	@if [ -z "$(PY27)" ]; then echo "make test: no Python 2.7 interpreter found (need pyenv's 2.7.18 or python2.7): host-side code must be tested under Python 2"; exit 1; fi
	$(PY27) tests/host/runner.py tests/host

$(VENV39)/.installed: pyproject.toml setup.py client/ovm3/_wirec.c
	@if [ -z "$(PY39)" ]; then echo "make test: no Python 3.9 interpreter found (need pyenv's 3.9.18 or python3.9): the client promises 3.9 support"; exit 1; fi
	test -x $(VENV39)/bin/python || $(PY39) -m venv $(VENV39)
	$(VENV39)/bin/python -m pip install -q -e '.[test]' 'requests==$(REQUESTS_FLOOR)'
	touch $@

# The client core (transport, wire, parsers, table, CLI, simulator) on the oldest supported Python.
test-py39: $(VENV39)/.installed
	$(VENV39)/bin/python -m pytest -q -p no:cacheprovider tests/test_transport.py tests/test_wire.py tests/test_wire_decoder.py tests/test_wire_fast.py \
	  tests/test_client.py tests/test_table.py tests/test_parse_fixtures.py tests/test_vmcfg.py \
	  tests/test_cli_client.py tests/test_sim_scenario.py

test-py3: venv deb
	$(VPY) -m pytest -q

# A venv made before a compiler was installed lacks the C decoder: build it now (its tests must not skip).
cext: deb venv
	@$(VPY) -c 'import ovm3._wirec' 2>/dev/null || $(VPY) -m pip install -q -e '.[test]'

test: deb venv cext lint gate test-py27 test-py39 test-py3

# The demo needs ovm3 only: installing the test extra (pytest, hypothesis, ruff...) would double its time.
$(VENV)/.installed-base: pyproject.toml setup.py client/ovm3/_wirec.c
	test -x $(VPY) || $(PY) -m venv $(VENV)
	$(VPY) -m pip install -q -e .
	touch $@

demo: $(VENV)/.installed-base
	$(VENV)/bin/ovm3 demo

bench: deb venv cext
	$(VPY) -m bench.run

# Hours of fuzzing the C decoder under AddressSanitizer/UBSan (not part of make test): FUZZ_ROUNDS bodies.
FUZZ_ROUNDS ?= 200000
FUZZ_SEED ?= $(shell date +%s)
fuzz: cext
	rm -rf build/fuzz && mkdir -p build/fuzz
	gcc -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -fPIC -shared \
	  $$($(VPY) -c 'import sysconfig; print("-I" + sysconfig.get_paths()["include"])') client/ovm3/_wirec.c \
	  -o build/fuzz/_wirec$$($(VPY) -c 'import sysconfig; print(sysconfig.get_config_var("EXT_SUFFIX"))')
	ASAN_OPTIONS=detect_leaks=0 PYTHONMALLOC=malloc LD_PRELOAD=$$(gcc -print-file-name=libasan.so) \
	  $(VPY) tests/fuzz_wirec.py build/fuzz $(FUZZ_ROUNDS) $(FUZZ_SEED)

clean:
	rm -rf $(VENV) $(VENV39) build dist *.egg-info client/*.egg-info .pytest_cache client/ovm3/_wirec*.so
