"""Secrets we must read back (calendar passwords, webhook signing secrets), encrypted at
rest with a key derived from SECRET_KEY (Fernet: AES-128-CBC with HMAC-SHA256)."""
import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken
from flask import current_app


def _fernet() -> Fernet:
    key = hashlib.sha256(b"scheduler-secrets:" + current_app.config["SECRET_KEY"].encode()).digest()
    return Fernet(base64.urlsafe_b64encode(key))


def seal(plaintext: str) -> str:
    return _fernet().encrypt(plaintext.encode()).decode()


def unseal(token: str) -> str | None:
    """None when the key changed since it was sealed (SECRET_KEY rotated)."""
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        return None
