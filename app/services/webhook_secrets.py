"""Webhook secrets: made by the service in Standard Webhooks' `whsec_` form, stored
encrypted, and used to sign each delivery (the `standardwebhooks` package signs).

Encrypted, not hashed: an API key or a password is only ever compared with what a client
sends, so a hash of it is enough and a stolen table reveals nothing. A webhook secret is
the other way round: the service itself must compute an HMAC with it for every delivery,
so it must be able to read the secret back. It is encrypted with Fernet (AES-128-CBC and
HMAC-SHA256, `cryptography`) under WEBHOOK_ENCRYPTION_KEY, which lives outside the
database: a copy of the database alone (a backup, a dump) does not reveal the secrets.

Without WEBHOOK_ENCRYPTION_KEY (development), a key file is made on first use beside the
SQLite database (or under `data/`), readable by its owner only. Production sets the key,
the same in every process (see README): secrets stored under one key cannot be read under
another.
"""

from __future__ import annotations

import base64
import datetime as dt
import logging
import os
import secrets
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy.engine import make_url
from standardwebhooks import Webhook

from app.core.config import get_settings
from app.models import WebhookSubscription

logger = logging.getLogger("app.webhooks")

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32
"""Random bytes of a secret (Standard Webhooks asks for 24 to 64)."""
KEY_FILE = "webhook-encryption.key"


def generate_secret() -> str:
    """A new secret: `whsec_` and 32 random bytes in base64, shown to its owner once."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def key_file(database_url: str) -> Path:
    """Where the development key is kept: beside the SQLite database file, else under
    `data/`."""
    url = make_url(database_url)
    database = url.database if url.get_backend_name() == "sqlite" else None
    if database and database != ":memory:":
        return Path(database).parent / KEY_FILE
    return Path("data") / KEY_FILE


def development_key(path: Path) -> bytes:
    """The key in `path`, made (readable by its owner only) when there is none. Written to
    a file of its own first and then linked into place, so that two processes starting
    together end up with the same key."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fresh = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        descriptor = os.open(fresh, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(descriptor, "wb") as file:
                file.write(Fernet.generate_key())
                file.flush()
                os.fsync(file.fileno())
            os.link(fresh, path)
            logger.warning(
                "WEBHOOK_ENCRYPTION_KEY is not set: webhook secrets are encrypted with a new "
                "development key in %s (production must set WEBHOOK_ENCRYPTION_KEY)",
                path,
            )
        except FileExistsError:
            pass  # another process made it first: use its key
        finally:
            fresh.unlink(missing_ok=True)
    return path.read_bytes().strip()


@lru_cache(maxsize=4)
def _cipher(setting: str, database_url: str) -> MultiFernet:
    keys: Sequence[str | bytes] = [k.strip() for k in setting.split(",") if k.strip()]
    if not keys:
        keys = [development_key(key_file(database_url))]
    return MultiFernet([Fernet(key) for key in keys])


def cipher() -> MultiFernet:
    """The keys secrets are encrypted with (the first) and read with (each)."""
    settings = get_settings()
    return _cipher(settings.webhook_encryption_key, settings.database_url)


def encrypt(secret: str) -> str:
    return cipher().encrypt(secret.encode()).decode()


class UnreadableSecret(RuntimeError):
    """A stored secret that the configured keys cannot decrypt (the key was changed
    without keeping the old one in WEBHOOK_ENCRYPTION_KEY)."""


def decrypt(token: str) -> str:
    try:
        return cipher().decrypt(token.encode()).decode()
    except InvalidToken as error:
        raise UnreadableSecret(
            "A webhook secret cannot be decrypted with WEBHOOK_ENCRYPTION_KEY: keep the "
            "previous key after the new one (comma-separated), or rotate the secret"
        ) from error


def signing_secrets(subscription: WebhookSubscription, now: dt.datetime) -> list[str]:
    """The secrets a delivery is signed with: the current one, and the previous one while
    its grace period after a rotation lasts."""
    found = [decrypt(subscription.secret_encrypted)]
    until = subscription.previous_secret_until
    if subscription.previous_secret_encrypted and until is not None and now < until:
        found.append(decrypt(subscription.previous_secret_encrypted))
    return found


def sign(secrets: Sequence[str], message_id: str, timestamp: dt.datetime, body: bytes) -> str:
    """The `webhook-signature` header of a message: `v1,<base64>` per secret, separated by
    spaces (a receiver accepts the message when one of them matches)."""
    return " ".join(Webhook(secret).sign(message_id, timestamp, body) for secret in secrets)


def signature(
    subscription: WebhookSubscription,
    message_id: str,
    timestamp: dt.datetime,
    body: bytes,
    now: dt.datetime,
) -> str:
    """The `webhook-signature` header of a delivery to `subscription` at `now`."""
    return sign(signing_secrets(subscription, now), message_id, timestamp, body)
