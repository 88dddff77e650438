"""Settings, read from the environment (and an optional `.env` file)."""

from functools import lru_cache

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


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
    max_body_bytes: int = Field(
        default=2_000_000, description="The largest request body accepted (413 beyond)"
    )
    max_import_bytes: int = Field(
        default=20_000_000, description="The largest import (CSV, JSON or xlsx) accepted"
    )
    auth_failure_limit: str = Field(
        default="20/minute",
        description="Failed authentications allowed per client address (e.g. 20/minute); "
        "0 turns throttling off",
    )
    key_last_used_resolution_seconds: int = Field(
        default=60, description="How often at most an API key's last-used time is written."
    )

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
