"""A browser session signed in with an API key keeps a reference to the key, never the key.

The reference is the key's id and a fingerprint of its stored hash: a revoked key, or a
database reset that gives the id to another key, ends the session at its next request.
"""
from __future__ import annotations

import hmac
from dataclasses import dataclass

from sqlalchemy import select

from ...extensions import db
from ...models import ApiKey
from .api_keys import Caller, caller_for_key

FINGERPRINT_LENGTH = 16


@dataclass(frozen=True)
class KeyRef:
    id: int
    fingerprint: str


def key_ref(presented: str | None) -> tuple[Caller, KeyRef] | None:
    """The caller a presented key stands for and its reference; None for a wrong or revoked key."""
    caller = caller_for_key(presented)
    if caller is None:
        return None
    key_hash = db.session.scalar(select(ApiKey.key_hash).where(ApiKey.id == caller.id))
    return caller, KeyRef(caller.id, key_hash[:FINGERPRINT_LENGTH])


def caller_for_ref(key_id: int, fingerprint: str) -> Caller | None:
    """The caller while the key still exists, unrevoked, with the same hash."""
    row = db.session.execute(select(ApiKey.id, ApiKey.name, ApiKey.role, ApiKey.key_hash, ApiKey.revoked_at)
                             .where(ApiKey.id == key_id)).one_or_none()
    if row is None or row.revoked_at is not None or not hmac.compare_digest(
            row.key_hash[:FINGERPRINT_LENGTH], str(fingerprint)):
        return None
    return Caller(id=row.id, name=row.name, role=row.role)
