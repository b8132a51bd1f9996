"""write_transaction: the one way a service writes (services/platform/transaction.py)."""
import datetime as dt

import pytest
from sqlalchemy import select

from scheduler.domain.errors import Conflict, Invalid
from scheduler.extensions import db
from scheduler.models import Heartbeat
from scheduler.services.platform.transaction import write_transaction

AT = dt.datetime(2030, 1, 1, tzinfo=dt.timezone.utc)


def beats() -> set[str]:
    return set(db.session.scalars(select(Heartbeat.name)))


def beat(name: str) -> Heartbeat:
    return Heartbeat(name=name, beat_at=AT)


def test_the_block_commits_when_it_ends_and_when_it_returns(app):
    with write_transaction():
        db.session.add(beat("a"))

    def early():
        with write_transaction():
            db.session.add(beat("b"))
            return "done"

    assert early() == "done"
    db.session.rollback()  # a fresh look: committed rows only
    assert beats() == {"a", "b"}


def test_an_integrity_error_is_a_conflict_with_the_callers_code_and_nothing_is_kept(app):
    with write_transaction():
        db.session.add(beat("a"))
    with pytest.raises(Conflict) as refused:
        with write_transaction(conflict_code="slot_unavailable", conflict_message="Taken."):
            db.session.add(beat("c"))
            db.session.flush()
            db.session.add(beat("a"))  # the same primary key: refused at the commit's flush
    assert (refused.value.code, refused.value.message) == ("slot_unavailable", "Taken.")
    assert beats() == {"a"}


def test_any_other_error_rolls_back_and_goes_on_unchanged(app):
    with pytest.raises(Invalid, match="no"):
        with write_transaction():
            db.session.add(beat("d"))
            db.session.flush()
            raise Invalid("no")
    assert beats() == set()


def test_transactions_never_nest(app):
    with write_transaction():
        with pytest.raises(RuntimeError, match="already open"):
            with write_transaction():
                pass
        db.session.add(beat("e"))
    assert beats() == {"e"}
