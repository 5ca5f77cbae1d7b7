"""Fault injection shared by tests/platform/test_faults.py and bench/faults.py.

Firms are seeded in bulk (`seed`), then drive the real web server over HTTP (`http`)
while workers are SIGKILLed, Redis is stopped, PostgreSQL restarts or storage fills up
(`processes`); `ledger` then counts, from the database, the storage folder and the SMTP
server, what was lost and what was done twice. `scenarios` are the runs of
docs/reliability.md, sized by their callers.
"""
