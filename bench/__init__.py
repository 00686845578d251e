"""Benchmarks of the ovm3 client, parsers, fleet polling, heartbeat and deployment.

Run them with ``make bench`` (or ``.venv/bin/python -m bench.run``); the report lands in
``bench/results/``. They are never part of ``make test``. See README "Benchmarks".
"""
