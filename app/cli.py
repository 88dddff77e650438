"""The `iki` command: migrate, seed, serve, and manage API keys and people."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import typer
from alembic.util import CommandError
from pydantic import TypeAdapter, ValidationError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, IntegrityError, InterfaceError, OperationalError
from sqlmodel import Session

# typer carries its own copy of click: its errors are these, not the click package's.
from typer._click.exceptions import ClickException, NoArgsIsHelpError, UsageError
from typer.core import TyperGroup

from app.core.config import get_settings
from app.core.db import get_engine, get_write_engine
from app.core.errors import AppError
from app.core.types import Year
from app.models import Role


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _database() -> str:
    try:
        return make_url(get_settings().database_url).render_as_string(hide_password=True)
    except Exception:
        return "the database"


def expected_error(exc: BaseException) -> str | None:
    """What an expected failure (bad input, a missing row, a database that cannot be used, a
    file that cannot be read, bad settings) says to the user, in one line; None for a bug."""
    if isinstance(exc, AppError):
        return exc.detail
    if isinstance(exc, IntegrityError):
        return f"the change conflicts with the database: {str(exc.orig).splitlines()[0]}"
    if isinstance(exc, OperationalError | InterfaceError):
        reason = str(exc.orig).strip().splitlines()[0] if str(exc.orig).strip() else "unknown"
        return f"cannot use the database {_database()}: {reason}"
    if isinstance(exc, ArgumentError):
        return f"DATABASE_URL cannot be used: {exc}"
    if isinstance(exc, CommandError):
        return f"migration: {exc}"
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror}: {exc.filename}" if exc.filename else exc.strerror
    if isinstance(exc, ValidationError):
        return "invalid settings: " + "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:5]
        )
    return None


class OneLineErrors(TyperGroup):
    """The `iki` command: an expected error (bad input, a missing row, a database that cannot
    be reached) prints one line, `error: ...`, on stderr and exits non-zero (1; 2 for a
    misused command line); only a bug prints a traceback."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        try:
            code = super().main(
                args,
                prog_name,
                complete_var,
                standalone_mode=False,
                windows_expand_args=windows_expand_args,
                **extra,
            )
        except NoArgsIsHelpError as exc:
            exc.show()  # the help, as asked for
            code = exc.exit_code
        except ClickException as exc:
            hint = (
                f" (see '{exc.ctx.command_path} --help')"
                if isinstance(exc, UsageError) and exc.ctx
                else ""
            )
            typer.echo(f"error: {_one_line(exc.format_message())}{hint}", err=True)
            code = exc.exit_code
        except typer.Abort:
            typer.echo("error: aborted", err=True)
            code = 1
        except Exception as exc:
            message = expected_error(exc)
            if message is None:
                raise
            typer.echo(f"error: {_one_line(message)}", err=True)
            code = 1
        if not standalone_mode:
            return code
        sys.exit(code if isinstance(code, int) else 0)


cli = typer.Typer(
    help="IKI service administration.",
    no_args_is_help=True,
    cls=OneLineErrors,
    pretty_exceptions_enable=False,
)
keys_cli = typer.Typer(help="Manage API keys.", no_args_is_help=True)
cli.add_typer(keys_cli, name="keys")
users_cli = typer.Typer(help="Manage the people who sign in on the pages.", no_args_is_help=True)
cli.add_typer(users_cli, name="users")
seals_cli = typer.Typer(help="Check the sealed (verified) figures.", no_args_is_help=True)
cli.add_typer(seals_cli, name="seals")


def _session(actor: str) -> Session:
    """A session whose changes are audited as made by `actor` from the command line; on
    SQLite it begins with the write lock, as every command that uses it reads then writes."""
    from app.services import audit

    session = Session(get_write_engine())
    audit.act_as(session, actor, "admin", f"cli-{uuid.uuid4().hex}")
    return session


@cli.command()
def migrate() -> None:
    """Migrate the database to the latest schema."""
    from app.core.migrations import upgrade

    try:
        before, after = upgrade(get_engine())
    except RuntimeError as exc:  # a migration refusing (it says why), or no migrations found
        raise AppError(str(exc)) from exc
    if before == after:
        typer.echo(f"database already at head ({after})", err=True)
    else:
        typer.echo(f"database migrated from {before or 'empty'} to head ({after})", err=True)


@cli.command()
def seed(
    seed_dir: Annotated[Path | None, typer.Option(help="Seed folder (default: SEED_DIR)")] = None,
    update: Annotated[
        bool, typer.Option("--update", help="Also apply the seed over rows that exist already")
    ] = False,
) -> None:
    """Load the seed data (the SKs and the default rating scale); safe to run again: rows
    that exist are kept as they are (admins may have edited them), unless --update."""
    from app.services.common import analyze
    from app.services.seed import load_seed

    folder = seed_dir or Path(get_settings().seed_dir)
    with _session("seed") as session:
        try:
            report = load_seed(session, folder, update_existing=update)
            if report.changed:  # the planner's statistics of what it filled (PostgreSQL)
                filled = [t for t, rows in (report.created + report.updated).items() if rows]
                analyze(session, [*filled, "audit_event"])
            session.commit()
        except IntegrityError as exc:
            first = str(exc.orig).splitlines()[0]
            raise AppError(f"the seed conflicts with the database: {first}") from exc
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
    with_worker: Annotated[
        bool,
        typer.Option(
            "--with-worker",
            help="Also run the webhook dispatcher (`iki worker`) beside the server, as one "
            "deployment on one machine does; stopped with it",
        ),
    ] = False,
) -> None:
    """Serve the API with uvicorn; on a database without keys, create and print an admin key."""
    import signal
    import subprocess

    import uvicorn

    from app.core.logging import logging_config

    settings = get_settings()
    secret = bootstrap_admin()
    if secret:
        banner = "=" * 72
        typer.echo(
            f"{banner}\nNo API key existed, so an admin key was created. It is shown only once:\n\n"
            f"    ADMIN API KEY: {secret}\n\n"
            f"Use it as 'Authorization: Bearer <key>' (the Authorize button in /docs).\n{banner}",
            err=True,
        )
    dispatcher = None
    if with_worker:
        dispatcher = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "worker"], preexec_fn=_stop_with_parent
        )
        # uvicorn ends by raising the SIGTERM it was stopped with again: as an exit, so that
        # the dispatcher is stopped below.
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    try:
        uvicorn.run(
            "app.main:app",
            host=host or settings.host,
            port=port or settings.port,
            workers=workers or settings.workers,
            log_config=logging_config(),
            **proxy_options(settings.trusted_proxies),
        )
    finally:
        if dispatcher is not None:
            dispatcher.terminate()
            try:
                dispatcher.wait(timeout=settings.webhook_timeout_seconds + 10)
            except subprocess.TimeoutExpired:
                dispatcher.kill()


def bootstrap_admin() -> str | None:
    """On a database without keys, create an admin key and return its secret (else None):
    one, however many replicas start together."""
    from app.services.keys import ensure_bootstrap_admin

    with _session("cli") as session:
        secret = ensure_bootstrap_admin(session)
        session.commit()
    return secret


def _stop_with_parent() -> None:
    """In a child process (Linux): be sent SIGTERM when the parent dies, even killed."""
    import contextlib
    import ctypes
    import signal

    with contextlib.suppress(OSError, AttributeError):  # not Linux: stopped at the exit only
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


@cli.command()
def worker() -> None:
    """Deliver webhooks from the outbox until SIGTERM or Ctrl-C, then let the deliveries in
    flight end. Several may run on PostgreSQL; on SQLite, run one."""
    import asyncio
    import logging.config
    import signal

    from app.core.logging import logging_config
    from app.services.dispatch import Dispatcher

    logging.config.dictConfig(logging_config())
    dispatcher = Dispatcher(get_engine())

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        typer.echo(f"webhook dispatcher {dispatcher.name} started", err=True)
        await dispatcher.run(stop)
        typer.echo(f"webhook dispatcher {dispatcher.name} stopped", err=True)

    asyncio.run(main())


@cli.command()
def forget() -> None:
    """Give every agency's data a new revision, so that no server serves a figure it
    remembered before: run it after changing rows with SQL written by hand (the service's own
    writes revise what they change)."""
    from app.services.revisions import forget as revise_every_agency

    with _session("cli") as session:
        revised = revise_every_agency(session)
        session.commit()
    typer.echo(f"{revised} agencies revised: remembered figures are computed again", err=True)


def proxy_options(trusted_proxies: str) -> dict[str, Any]:
    """uvicorn's options for X-Forwarded-For and X-Forwarded-Proto: believed only from the
    proxies named in TRUSTED_PROXIES (addresses or CIDR networks), from nobody by default
    (uvicorn's own default believes 127.0.0.1, so that a client on the same host could
    name any address and escape the throttle)."""
    trusted = [item.strip() for item in trusted_proxies.split(",") if item.strip()]
    if not trusted:
        return {"proxy_headers": False}
    return {"proxy_headers": True, "forwarded_allow_ips": trusted}


_YEAR = TypeAdapter(Year)


def _year(text: str) -> int:
    """A `--year` read as the API reads a year: the digits 0-9 only (int() alone would take
    `1_0` as 10, `+2025` or ` 2025`), within the years a decree may have."""
    try:
        return _YEAR.validate_python(text)
    except ValidationError as exc:
        raise typer.BadParameter(exc.errors()[0]["msg"].removeprefix("Value error, ")) from exc


# Every `--year` option: one reading of a year.
YearOption = Annotated[int | None, typer.Option(parser=_year, help="Only this year")]

_ROLES = ", ".join(Role)
# The options that a key and a person are created with alike.
RoleOption = Annotated[Role, typer.Option(help=f"One of {_ROLES}: a named set of capabilities")]
AgencyOption = Annotated[str | None, typer.Option(help="Agency code, if unit codes are ambiguous")]


@keys_cli.command("create")
def keys_create(
    name: Annotated[str, typer.Option(help="A unique name for the key")],
    role: RoleOption,
    unit: Annotated[
        list[str] | None,
        typer.Option(help="Unit code the key enters data for and submits (repeatable)"),
    ] = None,
    agency: AgencyOption = None,
) -> None:
    """Create a key and print it, alone, on stdout (it is not shown again)."""
    from app.services.keys import create_key

    with _session("cli") as session:
        _, secret = create_key(session, name, role, unit or [], agency)
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
        revoke_key(session, name)
        session.commit()
    typer.echo(f"key '{name}' revoked", err=True)


PASSWORD_ENV = "IKI_USER_PASSWORD"


@users_cli.command("create")
def users_create(
    name: Annotated[str, typer.Option(help="A unique name to sign in with")],
    role: RoleOption,
    unit: Annotated[
        list[str] | None,
        typer.Option(help="Unit code the person enters data for and submits (repeatable)"),
    ] = None,
    agency: AgencyOption = None,
    prompt_password: Annotated[
        bool,
        typer.Option(
            "--prompt-password",
            help=f"Read the one-time password from a prompt (or from {PASSWORD_ENV} if set) "
            "instead of generating one",
        ),
    ] = False,
) -> None:
    """Create a person with a one-time password, which they must change at the first
    sign-in: a generated one is printed, alone, on stdout (it is not shown again)."""
    import os

    from app.services.people import create_person, generate_password

    generated = not prompt_password
    if generated:
        password = generate_password()
    else:
        password = os.environ.get(PASSWORD_ENV) or typer.prompt(
            "One-time password", hide_input=True, confirmation_prompt=True
        )
    with _session("cli") as session:
        create_person(session, name, role, password, unit or [], agency)
        session.commit()
    if generated:
        typer.echo(password)
    typer.echo(f"person '{name}' created; they change the password at the first sign-in", err=True)


@users_cli.command("list")
def users_list() -> None:
    """List people: name, role, units, created, password changed, disabled."""
    from app.services.people import list_people

    with Session(get_engine()) as session:
        rows = list_people(session)

    def when(moment: Any) -> str:
        return moment.isoformat(timespec="seconds") if moment else "-"

    typer.echo("name\trole\tunits\tcreated\tpassword_changed\tdisabled")
    for person, units in rows:
        typer.echo(
            "\t".join(
                [
                    person.name,
                    str(person.role),
                    ",".join(units) or "-",
                    when(person.created_at),
                    when(person.password_changed_at),
                    when(person.disabled_at),
                ]
            )
        )


@users_cli.command("disable")
def users_disable(name: Annotated[str, typer.Option(help="The person's name")]) -> None:
    """Disable a person: they cannot sign in, and their sessions end at their next request."""
    from app.services.people import disable_person

    with _session("cli") as session:
        disable_person(session, name)
        session.commit()
    typer.echo(f"person '{name}' disabled", err=True)


@seals_cli.command("check")
def seals_check(
    year: YearOption = None,
    agency: Annotated[str | None, typer.Option(help="Only this agency (code)")] = None,
) -> None:
    """Recompute every sealed (verified) figure, page after page, and report those that
    drifted; exit 1 if any."""
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
