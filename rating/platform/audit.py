"""Appending to the hash-chained audit log, and verifying the chain.

Call `append` inside the transaction that makes the change: the entry is written just
before that transaction commits (a `before_commit` hook) and commits or rolls back with
it. Writing then, all of a transaction's entries at once, keeps the lock on the chain's
head row as short as it can be: from the last moment of the transaction to its commit,
instead of from the first change to the commit, so concurrent requests queue on it for
a few milliseconds only (PostgreSQL row lock; SQLite's single writer).

The head is the last lock a transaction takes: the session is flushed before it, so
every other row of the transaction (and the key-share locks its foreign keys take on the
rows it references) is written first. After the head come only the entries, whose actor
reference takes a key-share lock; nothing we do elsewhere conflicts with that one (we
lock rows FOR NO KEY UPDATE, never FOR UPDATE, where others may reference them, and
never delete a user or change the unique email that makes its update a key update), so
a transaction holding the head never waits for one that is waiting for the head.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterator

from sqlalchemy import bindparam, event, insert, select, text, update
from sqlalchemy.orm import Session, SessionTransaction

from rating import clock
from rating.extensions import db
from rating.models.audit import GENESIS, AuditEntry, AuditHead, AuditVerified

_BUMP = text("UPDATE audit_head SET seq = seq + :n WHERE id = 1 RETURNING seq, last_hash")
# Core statements on the tables (on the mapped classes they take the ORM's slower bulk path).
_INSERT = insert(AuditEntry.__table__)
_SET_TIP = (update(AuditHead.__table__).where(AuditHead.__table__.c.id == 1)
            .values(last_hash=bindparam("tip")))
_PENDING = "rating_audit_pending"
_MARKS = "rating_audit_savepoints"


def canonical(document: dict[str, Any]) -> str:
    return json.dumps(document, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)


def chain_hash(prev_hash: str, payload: str) -> str:
    return hashlib.sha256((prev_hash + "\n" + payload).encode("utf-8")).hexdigest()


def ensure_head(session: Session | None = None) -> None:
    """Create the head row if the table is new (migrations also insert it)."""
    session = session or db.session
    if session.get(AuditHead, 1) is None:
        session.add(AuditHead(id=1, seq=0, last_hash=GENESIS))
        session.flush()


def append(action: str, object_type: str, object_id: int | str, actor_id: int | None = None, /, *,
           at: datetime | None = None, **data: Any) -> None:
    """Add one entry to the chain, written when the current transaction commits."""
    at = at or clock.now()
    # Frozen now, as canonical JSON: what is recorded is what was true when the change was made.
    db.session.info.setdefault(_PENDING, []).append((at, actor_id, action, object_type, str(object_id),
                                                     canonical(data)))


def _payload(seq: int, at: datetime, actor_id: int | None, action: str, object_type: str, object_id: str,
             data: str) -> str:
    """The entry's signed document, written by canonical(); `data` is the canonical JSON
    frozen when the entry was appended."""
    return canonical({"seq": seq, "at": at.isoformat(), "actor_id": actor_id, "action": action,
                      "object_type": object_type, "object_id": object_id, "data": json.loads(data)})


@event.listens_for(Session, "before_commit")
def _write_pending(session: Session) -> None:
    if not session.info.get(_PENDING):
        return
    session.flush()     # before the head (module docstring); its own appends come along
    pending = session.info.pop(_PENDING)
    row = session.execute(_BUMP, {"n": len(pending)}).one_or_none()
    if row is None:
        ensure_head(session)
        row = session.execute(_BUMP, {"n": len(pending)}).one()
    last_seq, prev_hash = row
    rows = []
    for seq, (at, actor_id, action, object_type, object_id, data) in enumerate(pending,
                                                                               start=last_seq - len(pending) + 1):
        payload = _payload(seq, at, actor_id, action, object_type, object_id, data)
        digest = chain_hash(prev_hash, payload)
        rows.append({"id": seq, "at": at, "actor_id": actor_id, "action": action, "object_type": object_type,
                     "object_id": object_id, "payload": payload, "prev_hash": prev_hash, "hash": digest})
        prev_hash = digest
    session.execute(_INSERT, rows)
    session.execute(_SET_TIP, {"tip": prev_hash})


# A savepoint that rolls back forgets the entries appended inside it (their change did not
# happen) and keeps the ones before it; the outermost transaction ending without a commit
# (rolled back, or closed) forgets them all. `after_rollback` cannot tell them apart: it
# fires for a savepoint too.
@event.listens_for(Session, "after_transaction_create")
def _mark_savepoint(session: Session, transaction: SessionTransaction) -> None:
    if transaction.nested:
        session.info.setdefault(_MARKS, {})[transaction] = len(session.info.get(_PENDING, ()))


@event.listens_for(Session, "after_soft_rollback")
def _forget_savepoint(session: Session, previous_transaction: SessionTransaction) -> None:
    mark = session.info.get(_MARKS, {}).pop(previous_transaction, None)
    if previous_transaction.nested and mark is not None and _PENDING in session.info:
        del session.info[_PENDING][mark:]


@event.listens_for(Session, "after_transaction_end")
def _forget_pending(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        session.info.pop(_PENDING, None)
        session.info.pop(_MARKS, None)


@dataclass(frozen=True)
class Break:
    entry_id: int
    reason: str


def verify(batch_size: int = 5000) -> tuple[int, Break | None]:
    """Walk the chain in order; return (entries checked, first break or None)."""
    expected_prev, expected_seq, checked = GENESIS, 1, 0
    for entry in _entries(batch_size):
        problem = _check(entry, expected_prev, expected_seq)
        if problem:
            # A gap is reported at the first missing number, anything else at the entry itself.
            return checked, Break(min(entry.id, expected_seq), problem)
        expected_prev, expected_seq, checked = entry.hash, entry.id + 1, checked + 1
    head = db.session.get(AuditHead, 1)
    if head is not None and (head.seq != expected_seq - 1 or head.last_hash != expected_prev):
        return checked, Break(expected_seq, "entries after %d are missing (head is at %d)"
                              % (expected_seq - 1, head.seq))
    return checked, None


def _entries(batch_size: int, after: int = 0, expunge: bool = True) -> Iterator[AuditEntry]:
    last = after
    while True:
        rows = db.session.execute(
            select(AuditEntry).where(AuditEntry.id > last).order_by(AuditEntry.id).limit(batch_size)
        ).scalars().all()
        if not rows:
            return
        yield from rows
        last = rows[-1].id
        if expunge:
            db.session.expunge_all()


def remember_verified(seq: int) -> None:
    """After a full verify() found the first `seq` entries intact: the log browser continues
    from there instead of rewalking them (committed by the caller)."""
    entry = db.session.get(AuditEntry, seq) if seq else None
    mark = db.session.get(AuditVerified, 1) or AuditVerified(id=1)
    mark.seq, mark.hash, mark.verified_at = seq, entry.hash if entry is not None else GENESIS, clock.now()
    db.session.add(mark)


def verified_through(budget: int = 1000) -> tuple[int, Break | None]:
    """How far the chain verifies: the last seq checked (continuing from the stored mark, at
    most `budget` entries more per call: about 40 ms, so a page stays fast however far
    behind the mark is; `flask audit verify` brings it to the head at once) and the first
    break found, if any. The mark moves
    forward in the caller's transaction, which commits it. An entry at the mark whose hash is
    no longer the one verified means the chain was rewritten: nothing is vouched for then."""
    mark = db.session.get(AuditVerified, 1)
    seq, prev = (mark.seq, mark.hash) if mark is not None else (0, GENESIS)
    if seq:
        at_mark = db.session.get(AuditEntry, seq)
        if at_mark is None or at_mark.hash != prev:
            return 0, Break(seq, "entry %d is not the one verified before" % seq)
    broken = None
    for entry in _entries(budget, after=seq, expunge=False):
        problem = _check(entry, prev, seq + 1)
        if problem:
            broken = Break(min(entry.id, seq + 1), problem)
            break
        seq, prev = entry.id, entry.hash
        budget -= 1
        if budget <= 0:
            break
    if mark is None:
        mark = AuditVerified(id=1)
        db.session.add(mark)
    if (mark.seq, mark.hash) != (seq, prev) or mark.verified_at is None:
        mark.seq, mark.hash, mark.verified_at = seq, prev, clock.now()
    return seq, broken


def _check(entry: AuditEntry, expected_prev: str, expected_seq: int) -> str | None:
    if entry.id != expected_seq:
        return f"entry {expected_seq} is missing (next is {entry.id})"
    if entry.prev_hash != expected_prev:
        return "prev_hash does not match the previous entry's hash"
    if chain_hash(entry.prev_hash, entry.payload) != entry.hash:
        return "hash does not match the payload"
    try:
        doc = json.loads(entry.payload)
    except ValueError:
        return "payload is not JSON"
    columns = {"seq": entry.id, "actor_id": entry.actor_id, "action": entry.action,
               "object_type": entry.object_type, "object_id": entry.object_id}
    for key, value in columns.items():
        if doc.get(key) != value:
            return f"column {key} differs from the signed payload"
    if datetime.fromisoformat(doc["at"]) != entry.at:
        return "column at differs from the signed payload"
    return None
