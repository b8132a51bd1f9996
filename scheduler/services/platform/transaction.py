"""The one way a use case writes: begin as a writer, commit on success, roll back on error.

    with write_transaction(conflict_code="slot_unavailable", conflict_message="..."):
        ...  # load, lock, call the domain, add rows

SQLite takes its write lock at the start (BEGIN IMMEDIATE), so a check and the write that
follows it never interleave with another writer. An IntegrityError from any flush inside
the block or from the commit (a unique index or an exclusion constraint refusing what a
concurrent writer got in first) becomes a Conflict with the caller's code; any other
exception rolls back and goes on unchanged. A ``return`` inside the block commits.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ...database import begin_write
from ...domain.errors import Conflict
from ...extensions import db

_OPEN = "scheduler.write_transaction"


@contextmanager
def write_transaction(conflict_code: str = "duplicate",
                      conflict_message: str = "That conflicts with an existing record.") -> Iterator[Session]:
    session = db.session()
    if session.info.get(_OPEN):
        # begin_write would commit the outer transaction half-way: never nest.
        raise RuntimeError("write_transaction is already open in this session")
    begin_write()
    session.info[_OPEN] = True
    try:
        yield session
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        raise Conflict(conflict_message, code=conflict_code) from exc
    except BaseException:
        session.rollback()
        raise
    finally:
        session.info.pop(_OPEN, None)


def end_read() -> None:
    """End a read-only transaction: hold no connection (nor SQLite lock) while waiting on
    the network, and read fresh rows afterwards."""
    db.session.rollback()
