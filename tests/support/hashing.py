"""Password hashing in the test process, at full strength but without repeating itself.

The suite registers thousands of firms and logs people in with the same few passwords, and
each scrypt hash or check costs a noticeable fraction of a second by design (OWASP strength,
rating/services/accounts/signin.py). So in the test process:

- a check of a password against a stored hash is computed once per (hash, password) pair
  and remembered: scrypt is deterministic, so the answer is exactly the one a new check
  would give;
- hashing a password computes one real hash per password and hands it out again, so
  accounts that share a test password share a salt. Nothing in the product depends on
  salts differing, and a test that wants two hashes to differ uses two passwords.

The algorithm and its parameters are production's. The web and worker processes that the
integration, fault and multi-host tests start hash and check for real, as do the login
limit tests, which count real password checks.
"""
from __future__ import annotations

import functools

from rating.services.accounts import signin


def remember_password_hashing() -> None:
    """Replace what signin's `hash_password` and `password_matches` call (the only two
    ways the product hashes or checks a password) with remembering versions."""
    check, generate = signin.check_password_hash, signin.generate_password_hash

    @functools.cache
    def remembered_check(pwhash: str, password: str) -> bool:
        return check(pwhash, password)

    @functools.cache
    def remembered_hash(password: str) -> str:
        return generate(password)

    signin.check_password_hash = remembered_check
    signin.generate_password_hash = remembered_hash
