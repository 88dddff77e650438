"""The throttles count in the storage RATE_LIMIT_STORAGE_URL names: with Redis, every worker
and replica shares one count (shown on two `iki serve` processes over one PostgreSQL); a
storage that cannot be reached refuses nothing."""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import psycopg
import pytest
import redis
from limits import parse
from sqlalchemy.engine import make_url

from app.core.config import Settings, get_settings
from app.core.security import KEY_PREFIX_CHARS, FailureThrottle
from app.models import Role
from tests.conftest import DatabaseFactory
from tests.live import iki_serve, seeded_database

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


# Two servers, one PostgreSQL, one Redis --------------------------------------------------------

POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
"""The PostgreSQL server that holds the two processes' database: TEST_DATABASE_URL's when it
names one, else this machine's (replicas share PostgreSQL, never a SQLite file)."""
if os.environ.get("TEST_DATABASE_URL", "").startswith("postgresql"):
    POSTGRES_URL = os.environ["TEST_DATABASE_URL"]
DEFAULT_LIMIT = Settings.model_fields["auth_failure_limit"].default


def _postgres_up() -> bool:
    conninfo = make_url(POSTGRES_URL).set(drivername="postgresql")
    try:
        with psycopg.connect(conninfo.render_as_string(hide_password=False), connect_timeout=2):
            return True
    except psycopg.Error:
        return False


needs_postgres = pytest.mark.skipif(not _postgres_up(), reason="no PostgreSQL on 127.0.0.1:5432")


@pytest.fixture(scope="module")
def shared_database(tmp_path_factory) -> Iterator[tuple[str, dict[str, dict[str, str]]]]:
    """A PostgreSQL database of this module's own, migrated and seeded, with a reader key;
    dropped after it."""
    databases = DatabaseFactory(POSTGRES_URL, tmp_path_factory.mktemp("shared"))
    try:
        url = databases.new_url("throttle")
        yield url, seeded_database(url, {"reader": (Role.reader, ())})
    finally:
        databases.drop_all()


@contextmanager
def two_servers(database: str, storage: str, logs: Path) -> Iterator[tuple[str, str]]:
    """Two `iki serve` processes on `database`, counting failures in `storage`, believing
    X-Forwarded-For from 127.0.0.1 (as replicas believe their proxy): their base URLs."""
    env = {
        "DATABASE_URL": database,
        "RATE_LIMIT_STORAGE_URL": storage,
        "AUTH_FAILURE_LIMIT": DEFAULT_LIMIT,
        "TRUSTED_PROXIES": "127.0.0.1",
        "WORKERS": "1",
        "PDF_WORKERS": "1",
    }
    servers = [iki_serve(env, logs / f"{name}.log") for name in "ab"]
    with ExitStack() as stack, ThreadPoolExecutor(len(servers)) as pool:
        # Started together: each takes seconds to import the app, on a machine of 2 cores.
        starting = [pool.submit(server.__enter__) for server in servers]
        wait(starting)
        for server, started in zip(servers, starting, strict=True):
            if started.exception() is None:
                stack.push(server)  # stopped at the end, even if the other did not start
        first, second = (started.result() for started in starting)
        yield first.base, second.base


def _bad_keys_in_turn(servers: tuple[str, str], attempts: int) -> list[httpx.Response]:
    """`attempts` bad keys from one client, to each server in turn; each key is new, all
    share one prefix. The client and the prefix are new to the storage (and forgotten after,
    on Redis), so nothing else counts against them."""
    client = f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"
    prefix = f"iki_{uuid.uuid4().hex}"[:KEY_PREFIX_CHARS]
    answers = []
    try:
        for n in range(attempts):
            headers = {"Authorization": f"Bearer {prefix}{n:04d}bad", "X-Forwarded-For": client}
            answer = httpx.get(f"{servers[n % 2]}/api/v1/agencies", headers=headers, timeout=10)
            answers.append(answer)
    finally:
        store = redis.Redis.from_url(REDIS_URL, socket_timeout=2)
        for counted in (client, prefix):
            for key in store.scan_iter(match=f"*/{counted}/*", count=1000):
                store.delete(key)
    return answers


@needs_postgres
@needs_redis
def test_two_servers_on_one_redis_refuse_the_21st_failed_key_on_either(shared_database, tmp_path):
    url, keys = shared_database
    limit = parse(DEFAULT_LIMIT).amount
    assert DEFAULT_LIMIT == "20/minute"  # the "21st within a minute"
    with two_servers(url, REDIS_URL, tmp_path) as servers:
        answers = _bad_keys_in_turn(servers, limit + 2)
        statuses = [answer.status_code for answer in answers]
        # 10 on each server, 20 in all: the 21st is refused on the first, the 22nd on the other.
        assert statuses == [401] * limit + [429, 429], statuses
        for refused in answers[limit:]:
            assert 0 < int(refused.headers["Retry-After"]) <= 60
            assert refused.json()["status"] == 429
        for base in servers:  # a valid key is never refused
            assert httpx.get(f"{base}/api/v1/agencies", headers=keys["reader"]).status_code == 200


@needs_postgres
def test_two_servers_in_memory_count_each_their_own(shared_database, tmp_path):
    """The same turns, counted in each process's memory: 11 on each server, none refused
    (so the test above tells a shared count from two counts)."""
    url, _ = shared_database
    limit = parse(DEFAULT_LIMIT).amount
    with two_servers(url, "memory://", tmp_path) as servers:
        statuses = [answer.status_code for answer in _bad_keys_in_turn(servers, limit + 2)]
    assert statuses == [401] * (limit + 2), statuses
