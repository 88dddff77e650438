"""The throttles count in the storage RATE_LIMIT_STORAGE_URL names: with Redis, every worker
and replica shares one count; a storage that cannot be reached refuses nothing."""

from __future__ import annotations

import logging
import uuid

import pytest
import redis
from limits import parse

from app.core.config import get_settings
from app.core.security import FailureThrottle

REDIS_URL = "redis://127.0.0.1:6379/0"


def _redis_up() -> bool:
    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_timeout=1).ping())
    except redis.RedisError:
        return False


needs_redis = pytest.mark.skipif(not _redis_up(), reason="no Redis on 127.0.0.1:6379")


@pytest.fixture
def storage_url(monkeypatch):
    def use(url: str) -> None:
        monkeypatch.setenv("RATE_LIMIT_STORAGE_URL", url)
        get_settings.cache_clear()

    yield use
    get_settings.cache_clear()


@needs_redis
def test_two_processes_share_one_count_through_redis(storage_url):
    storage_url(REDIS_URL)
    # Two throttles with storages of their own, as two processes have: only Redis joins them.
    first, second = FailureThrottle(), FailureThrottle()
    assert first.storage is not second.storage
    limit = parse("4/minute")
    address = f"10.9.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"  # this test's own
    credential = f"iki_{uuid.uuid4().hex}"
    for throttle in (first, second, first, second):
        assert throttle.fail(limit, address, credential) is None
    assert second.fail(limit, address, credential) is not None  # the 5th, on either
    assert first.fail(limit, address, credential) is not None

    name = f"nama-{uuid.uuid4().hex}"
    for throttle in (first, second, first, second):
        assert throttle.sign_in_wait(limit, address, name) is None
        throttle.fail_sign_in(limit, address, name)
    assert first.sign_in_wait(limit, "10.0.0.9", name) is not None  # the name, anywhere


def test_memory_is_the_default_and_counts_per_process(storage_url):
    storage_url("memory://")
    first, second = FailureThrottle(), FailureThrottle()
    limit = parse("1/minute")
    assert first.fail(limit, "10.1.1.1", "iki_abcdefgh") is None
    assert first.fail(limit, "10.1.1.1", "iki_abcdefgh") is not None
    assert second.fail(limit, "10.1.1.1", "iki_abcdefgh") is None  # a count of its own


def test_an_unreachable_storage_refuses_nothing_and_says_so(storage_url, caplog):
    storage_url("redis://127.0.0.1:1/0")  # nothing listens on port 1
    throttle = FailureThrottle()
    limit = parse("1/minute")
    with caplog.at_level(logging.WARNING, logger="app.security"):
        for _ in range(3):
            assert throttle.fail(limit, "10.2.2.2", "iki_abcdefgh") is None
            throttle.fail_sign_in(limit, "10.2.2.2", "nama")
            assert throttle.sign_in_wait(limit, "10.2.2.2", "nama") is None
    assert "cannot be reached" in caplog.text
