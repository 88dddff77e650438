"""The `iki` command: migrate, seed, serve, and manage API keys."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Annotated, Any

import typer
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from app.core.config import get_settings
from app.core.db import get_engine
from app.core.errors import AppError
from app.models import Role

cli = typer.Typer(help="IKI service administration.", no_args_is_help=True)
keys_cli = typer.Typer(help="Manage API keys.", no_args_is_help=True)
cli.add_typer(keys_cli, name="keys")
seals_cli = typer.Typer(help="Check the sealed (verified) figures.", no_args_is_help=True)
cli.add_typer(seals_cli, name="seals")


def _session(actor: str) -> Session:
    """A session whose changes are audited as made by `actor` from the command line."""
    from app.services import audit

    session = Session(get_engine())
    audit.act_as(session, actor, "admin", f"cli-{uuid.uuid4().hex}")
    return session


def _fail(exc: AppError) -> typer.Exit:
    typer.echo(f"error: {exc.detail}", err=True)
    return typer.Exit(code=1)


@cli.command()
def migrate() -> None:
    """Migrate the database to the latest schema."""
    from app.core.migrations import upgrade

    upgrade(get_engine())
    typer.echo("database migrated to head", err=True)


@cli.command()
def seed(
    seed_dir: Annotated[Path | None, typer.Option(help="Seed folder (default: SEED_DIR)")] = None,
    update: Annotated[
        bool, typer.Option("--update", help="Also apply the seed over rows that exist already")
    ] = False,
) -> None:
    """Load the seed data (the SKs and the default rating scale); safe to run again: rows
    that exist are kept as they are (admins may have edited them), unless --update."""
    from app.services.seed import load_seed

    folder = seed_dir or Path(get_settings().seed_dir)
    with _session("seed") as session:
        try:
            report = load_seed(session, folder, update_existing=update)
            session.commit()
        except AppError as exc:
            raise _fail(exc) from exc
        except IntegrityError as exc:
            typer.echo(f"error: the seed conflicts with the database: {exc.orig}", err=True)
            raise typer.Exit(code=1) from exc
    created, updated = sum(report.created.values()), sum(report.updated.values())
    files = ", ".join(report.loaded) or "none (all loaded before; --update loads them again)"
    typer.echo(
        f"seed from {folder}: files loaded: {files}; {created} rows created, {updated} updated",
        err=True,
    )


@cli.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (default: HOST)")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: PORT)")] = None,
    workers: Annotated[int | None, typer.Option(help="Worker processes (default: WORKERS)")] = None,
) -> None:
    """Serve the API with uvicorn; on a database without keys, create and print an admin key."""
    import uvicorn

    from app.core.logging import logging_config
    from app.services.keys import ensure_bootstrap_admin

    settings = get_settings()
    with _session("cli") as session:
        secret = ensure_bootstrap_admin(session)
        session.commit()
    if secret:
        banner = "=" * 72
        typer.echo(
            f"{banner}\nNo API key existed, so an admin key was created. It is shown only once:\n\n"
            f"    ADMIN API KEY: {secret}\n\n"
            f"Use it as 'Authorization: Bearer <key>' (the Authorize button in /docs).\n{banner}",
            err=True,
        )
    uvicorn.run(
        "app.main:app",
        host=host or settings.host,
        port=port or settings.port,
        workers=workers or settings.workers,
        log_config=logging_config(),
        **proxy_options(settings.trusted_proxies),
    )


def proxy_options(trusted_proxies: str) -> dict[str, Any]:
    """uvicorn's options for X-Forwarded-For and X-Forwarded-Proto: believed only from the
    proxies named in TRUSTED_PROXIES (addresses or CIDR networks), from nobody by default
    (uvicorn's own default believes 127.0.0.1, so that a client on the same host could
    name any address and escape the throttle)."""
    trusted = [item.strip() for item in trusted_proxies.split(",") if item.strip()]
    if not trusted:
        return {"proxy_headers": False}
    return {"proxy_headers": True, "forwarded_allow_ips": trusted}


_ROLES = ", ".join(Role)


@keys_cli.command("create")
def keys_create(
    name: Annotated[str, typer.Option(help="A unique name for the key")],
    role: Annotated[Role, typer.Option(help=f"One of {_ROLES}: a named set of capabilities")],
    unit: Annotated[
        list[str] | None,
        typer.Option(help="Unit code the key enters data for and submits (repeatable)"),
    ] = None,
    agency: Annotated[
        str | None, typer.Option(help="Agency code, if unit codes are ambiguous")
    ] = None,
) -> None:
    """Create a key and print it, alone, on stdout (it is not shown again)."""
    from app.services.keys import create_key

    with _session("cli") as session:
        try:
            _, secret = create_key(session, name, role, unit or [], agency)
        except AppError as exc:
            raise _fail(exc) from exc
        session.commit()
    typer.echo(secret)


@keys_cli.command("list")
def keys_list() -> None:
    """List keys: name, role, units, prefix, created, last used, revoked."""
    from app.services.keys import list_keys

    with Session(get_engine()) as session:
        rows = list_keys(session)
    typer.echo("name\trole\tunits\tprefix\tcreated\tlast_used\trevoked")
    for key, units in rows:
        typer.echo(
            "\t".join(
                [
                    key.name,
                    str(key.role),
                    ",".join(units) or "-",
                    key.prefix,
                    key.created_at.isoformat(timespec="seconds"),
                    key.last_used_at.isoformat(timespec="seconds") if key.last_used_at else "-",
                    key.revoked_at.isoformat(timespec="seconds") if key.revoked_at else "-",
                ]
            )
        )


@keys_cli.command("revoke")
def keys_revoke(name: Annotated[str, typer.Argument(help="The key's name")]) -> None:
    """Revoke a key; it stops working at once."""
    from app.services.keys import revoke_key

    with _session("cli") as session:
        try:
            revoke_key(session, name)
        except AppError as exc:
            raise _fail(exc) from exc
        session.commit()
    typer.echo(f"key '{name}' revoked", err=True)


@seals_cli.command("check")
def seals_check(
    year: Annotated[int | None, typer.Option(help="Only this year")] = None,
    agency: Annotated[str | None, typer.Option(help="Only this agency (code)")] = None,
) -> None:
    """Recompute every sealed (verified) figure and report those that drifted; exit 1 if any."""
    from app.services.achievements import drift

    with Session(get_engine()) as session:
        checked, drifted = drift(session, year=year, agency=agency)
    for found in drifted:
        fields = ", ".join(
            f"{name}: {change.sealed!r} -> {change.current!r}"
            for name, change in found.fields.items()
        )
        typer.echo(f"{found.indicator} {found.year} Q{found.quarter}: {fields}")
    typer.echo(f"{checked} sealed figures checked, {len(drifted)} drifted", err=True)
    if drifted:
        raise typer.Exit(1)


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
