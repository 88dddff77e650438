"""Webhook secrets: Standard Webhooks' form, stored encrypted under WEBHOOK_ENCRYPTION_KEY
(or a development key file made readable by its owner only), and a change of that key that
keeps the old one readable."""

from __future__ import annotations

import base64
import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from pydantic import ValidationError

from app.core.config import Settings, get_settings
from app.services.webhook_secrets import (
    KEY_FILE,
    UnreadableSecret,
    decrypt,
    development_key,
    encrypt,
    generate_secret,
    key_file,
)


def test_a_secret_is_32_random_bytes_in_the_whsec_form():
    secrets = {generate_secret() for _ in range(100)}
    assert len(secrets) == 100
    for secret in secrets:
        assert secret.startswith("whsec_")
        assert len(base64.b64decode(secret.removeprefix("whsec_"), validate=True)) == 32


def test_a_secret_is_stored_encrypted_and_read_back():
    secret = generate_secret()
    token = encrypt(secret)
    assert secret not in token and secret.removeprefix("whsec_") not in token
    assert encrypt(secret) != token  # each encryption its own
    assert decrypt(token) == secret


def test_a_new_encryption_key_reads_what_the_old_one_wrote(monkeypatch):
    settings = get_settings()
    old_key = settings.webhook_encryption_key
    token = encrypt("whsec_b2xk")
    new_key = Fernet.generate_key().decode()
    monkeypatch.setattr(settings, "webhook_encryption_key", new_key)
    with pytest.raises(UnreadableSecret, match="WEBHOOK_ENCRYPTION_KEY"):
        decrypt(token)
    monkeypatch.setattr(settings, "webhook_encryption_key", f"{new_key},{old_key}")
    assert decrypt(token) == "whsec_b2xk"
    assert Fernet(new_key).decrypt(encrypt("whsec_bmV3").encode()) == b"whsec_bmV3"


def test_a_key_that_is_not_a_fernet_key_is_refused_at_start():
    with pytest.raises(ValidationError, match="not a Fernet key"):
        Settings(webhook_encryption_key="not-a-key")


def test_without_a_key_a_development_key_file_is_made_once_for_its_owner(tmp_path, monkeypatch):
    database = tmp_path / "db" / "iki.db"
    path = key_file(f"sqlite:///{database}")
    assert path == database.parent / KEY_FILE
    assert key_file("postgresql+psycopg://u@h/iki") == Path("data") / KEY_FILE
    # Many processes (threads here) starting together end up with one key.
    with ThreadPoolExecutor(8) as pool:
        keys = set(pool.map(lambda _: development_key(path), range(16)))
    assert len(keys) == 1 and Fernet(keys.pop())
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == [KEY_FILE]  # no stray temporary file

    monkeypatch.setattr(get_settings(), "webhook_encryption_key", "")
    monkeypatch.setattr(get_settings(), "database_url", f"sqlite:///{database}")
    token = encrypt("whsec_ZGV2")
    assert Fernet(path.read_bytes()).decrypt(token.encode()) == b"whsec_ZGV2"


def test_a_secret_quoted_in_a_log_line_is_masked():
    import logging

    from app.core.logging import HideSecrets

    secret = generate_secret()
    record = logging.LogRecord("app", logging.ERROR, __file__, 1, "sent %s", (secret,), None)
    assert HideSecrets().filter(record)
    assert record.getMessage() == "sent whsec_***"
