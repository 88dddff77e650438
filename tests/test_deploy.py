"""The Docker files, checked by reading them and by running what can run without Docker:
the container's start script (with a stand-in `iki`) and its health probe (against a stub
server)."""

from __future__ import annotations

import http.server
import json
import os
import re
import shlex
import subprocess
import sys
import threading
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import ClassVar

import pytest
from sqlalchemy.engine import make_url

from app.cli import cli
from app.core.config import Settings
from app.main import app

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


@dataclass(frozen=True)
class Instruction:
    keyword: str
    arguments: str

    def exec_form(self) -> list[str]:
        """The arguments of an exec-form (JSON array) instruction."""
        words = json.loads(self.arguments)
        assert isinstance(words, list) and all(isinstance(w, str) for w in words), self
        return words


def parse_dockerfile(text: str) -> list[Instruction]:
    """The instructions, continuation lines joined, comments and blank lines dropped."""
    instructions: list[Instruction] = []
    pending = ""
    for line in text.splitlines():
        stripped = line.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if pending and stripped.startswith("#"):  # a comment inside a continued instruction
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        keyword, _, arguments = (pending + stripped).partition(" ")
        instructions.append(Instruction(keyword.upper(), arguments.strip()))
        pending = ""
    assert not pending, "the Dockerfile ends inside a continued instruction"
    return instructions


INSTRUCTIONS = parse_dockerfile((ROOT / "Dockerfile").read_text())


def only(keyword: str) -> Instruction:
    found = [i for i in INSTRUCTIONS if i.keyword == keyword]
    assert len(found) == 1, f"expected one {keyword}, found {found}"
    return found[0]


def position(instruction: Instruction) -> int:
    return INSTRUCTIONS.index(instruction)


def env_values() -> dict[str, str]:
    values: dict[str, str] = {}
    for instruction in INSTRUCTIONS:
        if instruction.keyword == "ENV":
            for word in shlex.split(instruction.arguments):
                name, _, value = word.partition("=")
                values[name] = value
    return values


def copied_paths() -> dict[str, PurePosixPath]:
    """Each COPY source, with where it lands in the image."""
    workdir = PurePosixPath("/")
    copied: dict[str, PurePosixPath] = {}
    for instruction in INSTRUCTIONS:
        if instruction.keyword == "WORKDIR":
            workdir = workdir / instruction.arguments
        elif instruction.keyword == "COPY":
            *sources, target = shlex.split(instruction.arguments)
            assert not any(s.startswith("--from") for s in sources), "one stage expected"
            destination = workdir / target
            for source in sources:
                into_folder = target.endswith("/") or len(sources) > 1
                copied[source] = destination / source if into_folder else destination
    return copied


def test_base_image_is_a_python_the_project_supports():
    assert INSTRUCTIONS[0].keyword == "FROM", "the first instruction must be FROM"
    image = only("FROM").arguments
    match = re.fullmatch(r"python:3\.(\d+)(-slim)?(-\w+)?", image)
    assert match, f"unexpected base image {image}"
    minimum = re.fullmatch(r">=3\.(\d+)", PYPROJECT["project"]["requires-python"])
    assert minimum
    assert int(match[1]) >= int(minimum[1]), f"{image} is older than requires-python"


def test_the_package_and_its_runtime_files_are_installed_in_the_working_folder():
    workdir = PurePosixPath(only("WORKDIR").arguments)
    copied = copied_paths()
    # What `pip install .` reads (the readme is part of the metadata) and what the CLI
    # looks for in its working folder at run time (alembic.ini, migrations/, seed/).
    needed = ["pyproject.toml", PYPROJECT["project"]["readme"], "app", "alembic.ini"]
    needed += ["migrations", "seed"]
    for path in needed:
        assert copied.get(path) == workdir / path, f"{path} is not copied to {workdir}"
    install = [
        i
        for i in INSTRUCTIONS
        if i.keyword == "RUN" and re.search(r"\bpip install (\.|/app)(\s|$)", i.arguments)
    ]
    assert len(install) == 1, "one RUN pip install of the project"
    last_copy = max(position(i) for i in INSTRUCTIONS if i.keyword == "COPY")
    assert position(install[0]) > last_copy, "the install runs after every COPY"
    assert PYPROJECT["project"]["scripts"]["iki"] == "app.cli:main"  # the CMD's command


def test_the_container_listens_on_the_exposed_port_on_every_interface():
    env = env_values()
    assert only("EXPOSE").arguments == "8000"
    assert env.get("PORT", str(Settings.model_fields["port"].default)) == "8000"
    # The default host is 127.0.0.1: unreachable from outside the container.
    assert env.get("HOST") == "0.0.0.0"


def test_runs_as_a_user_that_exists_and_owns_the_sqlite_folder():
    user = only("USER")
    name = user.arguments.split(":")[0]
    assert name not in {"root", "0"}
    creates_user = [
        i
        for i in INSTRUCTIONS
        if i.keyword == "RUN" and re.search(rf"\buseradd\b.*\s{re.escape(name)}(\s|$)", i.arguments)
    ]
    assert creates_user, f"no RUN useradd creates {name}"
    assert position(creates_user[0]) < position(user)
    # The image's default database is SQLite in a folder the user must be able to write.
    database = make_url(env_values()["DATABASE_URL"]).database
    assert database
    folder = str(PurePosixPath(database).parent)
    prepares = [
        i
        for i in INSTRUCTIONS
        if i.keyword == "RUN"
        and f"mkdir -p {folder}" in i.arguments
        and re.search(rf"chown (-R )?{name}(:{name})? {re.escape(folder)}", i.arguments)
    ]
    assert prepares, f"no RUN creates {folder} and gives it to {name}"
    assert position(prepares[0]) < position(user)
    assert position(user) > max(position(i) for i in INSTRUCTIONS if i.keyword == "RUN")


def start_script() -> str:
    command = only("CMD").exec_form()
    assert not any(i.keyword == "ENTRYPOINT" for i in INSTRUCTIONS)
    assert command[:2] == ["sh", "-c"] and len(command) == 3, command
    return command[2]


def run_start_script(tmp_path: Path, failing: str = "") -> tuple[int, list[str]]:
    """Run the CMD's script with a stand-in `iki` that records its subcommand and fails for
    the one named by `failing`."""
    bin_dir, log = tmp_path / "bin", tmp_path / "calls"
    bin_dir.mkdir(exist_ok=True)
    log.write_text("")
    stub = bin_dir / "iki"
    stub.write_text(f'#!/bin/sh\necho "$1" >> {log}\n[ "$1" != "{failing}" ]\n')
    stub.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    result = subprocess.run(
        ["sh", "-c", start_script()], env=env, capture_output=True, text=True, timeout=30
    )
    return result.returncode, log.read_text().split()


def test_the_container_migrates_seeds_then_serves(tmp_path):
    assert run_start_script(tmp_path) == (0, ["migrate", "seed", "serve"])
    assert re.search(r"\bexec iki serve --with-worker\s*$", start_script()), (
        "the server must be PID 1, the webhook dispatcher beside it"
    )
    commands = {c.name or c.callback.__name__ for c in cli.registered_commands}  # type: ignore[union-attr]
    assert {"migrate", "seed", "serve"} <= commands


def test_a_failed_migration_keeps_the_server_down(tmp_path):
    returncode, calls = run_start_script(tmp_path, failing="migrate")
    assert returncode != 0
    assert calls == ["migrate"]


def test_a_failed_seed_does_not_keep_the_server_down(tmp_path):
    # As the Dockerfile's comment says: a seed error is reported, the service still starts.
    assert run_start_script(tmp_path, failing="seed") == (0, ["migrate", "seed", "serve"])


class _Probe(http.server.BaseHTTPRequestHandler):
    status = 200
    paths: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        type(self).paths.append(self.path)
        self.send_response(self.status)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def probe_server() -> Iterator[tuple[type[_Probe], int]]:
    handler = type("Probe", (_Probe,), {"paths": []})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield handler, server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def run_healthcheck(port: int) -> int:
    options, _, command = only("HEALTHCHECK").arguments.partition(" CMD ")
    assert "--interval" in options and "--timeout" in options
    words = Instruction("CMD", command).exec_form()
    assert words[0] == "python"
    result = subprocess.run(
        [sys.executable, *words[1:]],
        env={**os.environ, "PORT": str(port)},
        capture_output=True,
        timeout=30,
    )
    return result.returncode


def test_the_healthcheck_probes_readiness_on_the_service_port(probe_server):
    handler, port = probe_server
    assert run_healthcheck(port) == 0
    assert handler.paths == ["/readyz"]
    assert "/readyz" in app.openapi()["paths"]  # a route of the app

    handler.status = 503  # database unreachable or schema behind
    assert run_healthcheck(port) != 0
