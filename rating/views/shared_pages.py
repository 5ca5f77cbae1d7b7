"""Pages that read the same for every user of a role, rendered once and handed to each.

The officials' dashboard of a jurisdiction shows the same figures, forms and navigation to
every official who opens it while the database is unchanged; a reviewer's queue page is
the same each time they look while their rows are (the rows themselves are the key);
what is theirs alone is their name in the header and the CSRF token of their session.
Such a page is rendered once per key (the caller's: the database snapshot, or the rows,
and everything else the page reads), language and role, with a stand-in user whose name
is a marker, and kept per process; each request then puts the user's escaped name and
its own CSRF token into the kept text. A page with flashed messages waiting is rendered
afresh (they belong to one session and are consumed).
"""
from __future__ import annotations

import secrets
from typing import Any, Callable, Hashable

from flask import render_template, session
from flask_babel import get_locale
from flask_login import current_user
from flask_wtf.csrf import generate_csrf
from markupsafe import escape

CACHE_SIZE = 256   # pages kept per template and process
# Random per process: no text a page shows can contain them.
_NAME = "user-name-" + secrets.token_hex(16)
_TOKEN = "csrf-token-" + secrets.token_hex(16)
# One budget per template: three hundred reviewers' queue pages must not push the
# officials' dashboard out, nor it them.
_pages: dict[str, dict[tuple, str]] = {}


class _StandIn:
    """What the base template reads of the user, the name being a marker."""

    is_authenticated = True

    def __init__(self, role) -> None:
        self.role = role
        self.name = _NAME

    def __getattr__(self, name: str):
        # Jinja shows a missing attribute as an empty string; anything else of the user
        # in a shared page must fail loudly instead (it would be one user's, shown to all).
        if name.startswith("__"):
            raise AttributeError(name)
        raise RuntimeError(f"a shared page reads current_user.{name}: only its name and role may be shown")


def render(key: Hashable | None, template: str, context: Callable[[], dict[str, Any]]) -> str:
    """`template` rendered with `context()` (called only when the page is not kept), the
    kept copy when `key` (None: do not keep) was rendered before for this language and role."""
    if key is None or session.get("_flashes"):
        return render_template(template, **context())
    token = generate_csrf()
    role = current_user.role
    full_key = (key, str(get_locale()), role)
    kept = _pages.setdefault(template, {})
    page = kept.get(full_key)
    if page is None:
        # The token is a signed random value, so replacing it cannot touch anything else;
        # forms built before this call carry it too.
        page = render_template(template, **context(), current_user=_StandIn(role)).replace(token, _TOKEN)
        if len(kept) >= CACHE_SIZE:
            kept.clear()
        kept[full_key] = page
    return page.replace(_NAME, str(escape(current_user.name))).replace(_TOKEN, token)
