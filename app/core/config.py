"""Settings, read from the environment (and an optional `.env` file)."""

import ipaddress
import os
from functools import lru_cache

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def _cores() -> int:
    """The cores this process may run on (a container's cpuset, where the OS says)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1


class Settings(BaseSettings):
    """The service's settings; every field can be set by an environment variable of its name."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    database_url: str = Field(
        default="sqlite:///./data/iki.db",
        description="SQLAlchemy URL: sqlite:///path or postgresql+psycopg://user@host/db",
    )
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    seed_dir: str = "seed"
    db_echo: bool = False
    db_pool_size: int = 10
    db_pool_timeout_seconds: float = Field(
        default=5.0,
        gt=0,
        description="How long a request waits for a free database connection before it is "
        "answered 503 busy",
    )
    max_body_bytes: int = Field(
        default=2_000_000, description="The largest request body accepted (413 beyond)"
    )
    max_import_bytes: int = Field(
        default=20_000_000, description="The largest import (CSV, JSON or xlsx) accepted"
    )
    body_timeout_seconds: float = Field(
        default=30.0,
        gt=0,
        description="The longest wait for the next part of a request body (408 beyond)",
    )
    body_deadline_seconds: float = Field(
        default=300.0,
        gt=0,
        description="The longest time a whole request body may take to arrive (408 beyond)",
    )
    auth_failure_limit: str = Field(
        default="20/minute",
        description="Failed authentications allowed per client address and per key prefix "
        "(e.g. 20/minute); 0 turns throttling off. A valid key is never refused",
    )
    rate_limit_storage_url: str = Field(
        default="memory://",
        description="Where the throttles (failed keys, failed sign-ins) count: `memory://` "
        "(each process its own count), or `redis://host:6379/0` so that every worker and "
        "replica shares one count (any storage URL of the `limits` library)",
    )
    trusted_proxies: str = Field(
        default="",
        description="Comma-separated addresses or networks (CIDR) of the reverse proxies "
        "whose X-Forwarded-For and X-Forwarded-Proto are believed; none by default",
    )
    pdf_workers: int = Field(
        default_factory=lambda: _cores(),
        ge=1,
        description="Processes that typeset PDFs (default: the number of cores); as many "
        "more PDFs may wait, beyond that a PDF is answered 503 busy",
    )
    key_last_used_resolution_seconds: int = Field(
        default=60, description="How often at most an API key's last-used time is written."
    )
    cookie_secure: bool = Field(
        default=False,
        description="Mark the pages' cookies Secure (sent over HTTPS only): set it when the "
        "service is served behind HTTPS",
    )
    session_idle_minutes: float = Field(
        default=60,
        gt=0,
        description="A person's session ends after this many minutes without a request",
    )
    session_max_hours: float = Field(
        default=12,
        gt=0,
        description="A person's session ends this many hours after the sign-in, in use or not",
    )
    session_last_seen_resolution_seconds: int = Field(
        default=60, description="How often at most a session's last-seen time is written"
    )
    webhook_encryption_key: str = Field(
        default="",
        description="The Fernet key (32 url-safe base64 bytes) that webhook secrets are "
        "stored encrypted with; several, comma-separated, to change keys (the first "
        "encrypts, each decrypts). Production must set it: unset, a key file is made "
        "beside the SQLite database (or under data/) for development",
    )
    webhook_allow_loopback: bool = Field(
        default=False,
        description="Allow webhook URLs on loopback addresses (127.0.0.0/8, ::1), for "
        "development and tests; every other private, link-local or reserved address stays "
        "refused",
    )
    webhook_secret_grace_hours: float = Field(
        default=24,
        ge=0,
        description="How long a webhook's previous secret still signs after a rotation",
    )
    webhook_page_size: int = Field(
        default=200,
        ge=1,
        le=1000,
        description="Achievements per `achievements.verified` event: more are split into "
        "pages, each an event of its own",
    )
    webhook_dns_timeout_seconds: float = Field(
        default=2.0,
        gt=0,
        description="The longest wait for a webhook URL's host name to resolve",
    )
    webhook_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        le=300,
        description="The longest a delivery may take, connection to last byte read; beyond "
        "it the delivery is retried",
    )
    webhook_connect_timeout_seconds: float = Field(
        default=3.0, gt=0, le=60, description="The longest wait to connect to a receiver"
    )
    webhook_lease_seconds: float = Field(
        default=60.0,
        gt=0,
        description="How long a dispatcher holds a delivery it claimed (longer than "
        "WEBHOOK_TIMEOUT_SECONDS): a dispatcher that stops mid-delivery leaves it to be "
        "claimed again after that",
    )
    webhook_retry_base_seconds: float = Field(
        default=20.0,
        gt=0,
        description="The first retry's delay, doubled at each retry up to "
        "WEBHOOK_RETRY_CAP_SECONDS, each drawn between half of it and all of it (jitter)",
    )
    webhook_retry_cap_seconds: float = Field(
        default=3600.0, gt=0, description="The longest delay between two retries"
    )
    webhook_retry_hours: float = Field(
        default=24.0,
        gt=0,
        description="How long a delivery is retried (from its making, or its redelivery) "
        "before it is `failed`",
    )
    webhook_concurrency: int = Field(
        default=16,
        ge=1,
        le=256,
        description="Deliveries a dispatcher makes at once (one per lane at most)",
    )
    figure_memo_size: int = Field(
        default=10_000,
        ge=0,
        description="Entries a worker remembers by the revision of their agency's data: an "
        "indicator's figures asked together, or a unit's quarter's data-quality findings "
        "(about 4 KB each: 10,000 hold a city of 3,900 indicators and its 600 units' "
        "quarters); 0 computes everything at every read",
    )
    webhook_poll_seconds: float = Field(
        default=0.25,
        gt=0,
        le=60,
        description="How often an idle dispatcher looks for due deliveries",
    )

    @field_validator("trusted_proxies")
    @classmethod
    def _addresses_or_networks(cls, value: str) -> str:
        for item in (part.strip() for part in value.split(",")):
            if item:
                try:
                    ipaddress.ip_network(item, strict=False)
                except ValueError as error:
                    raise ValueError(f"not an IP address or CIDR network: {item!r}") from error
        return value

    @field_validator("webhook_encryption_key")
    @classmethod
    def _fernet_keys(cls, value: str) -> str:
        from cryptography.fernet import Fernet

        for key in (part.strip() for part in value.split(",")):
            if key:
                try:
                    Fernet(key)
                except ValueError as error:
                    raise ValueError(
                        "not a Fernet key (32 url-safe base64-encoded bytes)"
                    ) from error
        return value

    @model_validator(mode="after")
    def _lease_outlasts_a_delivery(self) -> "Settings":
        if self.webhook_lease_seconds <= self.webhook_timeout_seconds:
            raise ValueError(
                "WEBHOOK_LEASE_SECONDS must be longer than WEBHOOK_TIMEOUT_SECONDS: a "
                "delivery still in flight would be claimed again by another dispatcher"
            )
        return self

    @field_validator("database_url")
    @classmethod
    def _normalise_postgres_driver(cls, value: str) -> str:
        # Plain postgres URLs (as docker images and hosting providers give them) use psycopg 3.
        for prefix in ("postgres://", "postgresql://"):
            if value.startswith(prefix):
                return "postgresql+psycopg://" + value[len(prefix) :]
        return value


def megabytes(size: int) -> str:
    """A size in bytes as messages and the API documentation write it: 2000000 is "2 MB"."""
    return f"{size / 1_000_000:g} MB"


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings."""
    return Settings()
