"""Engine set-up per dialect, and the start of a writing transaction.

SQLite: foreign keys on, WAL so readers never wait for the writer, and writers
serialised by ``BEGIN IMMEDIATE``: a booking checks the rules and inserts under one
write lock, so two clerks can never both pass the check. PostgreSQL: row locks taken by
the services, and exclusion constraints as the last word.
"""
from sqlalchemy import event

from .extensions import db

IMMEDIATE = "sqlite_begin_immediate"


def configure_engine(engine) -> None:
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection, _record):
        # Let SQLAlchemy's begin event, not the driver, decide how transactions start.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn):
        immediate = conn.get_execution_options().get(IMMEDIATE)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def begin_write() -> None:
    """Start the session's transaction as a writer (SQLite takes its write lock now).

    Call it first in a use case that checks rules and then writes. A read-only
    transaction left open by the request (the API-key lookup) is ended first.
    """
    session = db.session()
    if session.in_transaction():
        if session.new or session.dirty or session.deleted:
            raise RuntimeError("begin_write called with unflushed changes")
        session.commit()
    session.connection(execution_options={IMMEDIATE: True})


def dialect_name() -> str:
    return db.engine.dialect.name
