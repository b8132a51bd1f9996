"""API keys: created once, stored as a SHA-256 hash, checked in constant time."""
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from sqlalchemy import select

from ...domain.errors import Conflict, Invalid
from ...domain.vocabulary import ROLES
from ...extensions import db
from ...models import ApiKey
from .transaction import write_transaction

PREFIX_LENGTH = 11  # "ks_" and 8 characters: enough to find the row, useless alone.


@dataclass(frozen=True)
class Caller:
    id: int
    name: str
    role: str


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def create_api_key(name: str, role: str) -> tuple[ApiKey, str]:
    name = (name or "").strip()
    if role not in ROLES:
        raise Invalid(f"role must be one of {', '.join(ROLES)}", errors={"role": ["unknown role"]})
    if not name or len(name) > 120:
        raise Invalid("name is required (1 to 120 characters)", errors={"name": ["required"]})
    with write_transaction(conflict_message=f"an API key named {name!r} exists"):
        if db.session.scalar(select(ApiKey.id).where(ApiKey.name == name)) is not None:
            raise Conflict(f"an API key named {name!r} exists", code="duplicate")
        key = "ks_" + secrets.token_urlsafe(32)
        row = ApiKey(name=name, role=role, key_hash=_hash(key), prefix=key[:PREFIX_LENGTH])
        db.session.add(row)
    return row, key


def caller_for_key(presented: str | None) -> Caller | None:
    if not presented or len(presented) < PREFIX_LENGTH + 8 or len(presented) > 200:
        return None
    digest = _hash(presented)
    rows = db.session.execute(
        select(ApiKey.id, ApiKey.name, ApiKey.role, ApiKey.key_hash, ApiKey.revoked_at)
        .where(ApiKey.prefix == presented[:PREFIX_LENGTH])).all()
    for row in rows:
        if hmac.compare_digest(row.key_hash, digest) and row.revoked_at is None:
            return Caller(id=row.id, name=row.name, role=row.role)
    return None
