"""Secrets we must read back (calendar passwords, webhook signing secrets), encrypted at
rest with a key derived from SECRET_KEY (Fernet: AES-128-CBC with HMAC-SHA256).

The caller builds the box from its settings and hands it to the services that need it."""
import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken


class SecretBox:
    def __init__(self, secret_key: str):
        key = hashlib.sha256(b"scheduler-secrets:" + secret_key.encode()).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(key))

    def seal(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def unseal(self, token: str) -> str | None:
        """None when the key changed since it was sealed (SECRET_KEY rotated)."""
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken:
            return None
