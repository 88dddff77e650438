"""docker-compose.yml and the proxy's deploy/nginx.conf, checked by reading them (there is no
container engine here to run them): every service's image, command, environment, health check
and dependencies, the proxy's upstreams and the one published port.

`wiring_problems` is the whole check, a function of the parsed files that names what is wrong,
so that a test can break a copy on purpose and see each break named."""

from __future__ import annotations

import copy
import ipaddress
import json
import re
import shlex
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

import pytest
import typer
import yaml
from cryptography.fernet import Fernet
from pydantic import ValidationError
from sqlalchemy.engine import make_url

from app.cli import cli
from app.core.config import Settings
from app.main import app
from tests.test_deploy import ROOT, env_values, start_script

# Compose reads this from the user's `.env` (the file's header says how to make it).
USER_ENVIRONMENT = {"WEBHOOK_ENCRYPTION_KEY": Fernet.generate_key().decode()}
CONDITIONS = {"service_started", "service_healthy", "service_completed_successfully"}
PROXY_CONFIG_MOUNT = "/etc/nginx/conf.d/default.conf"


# Reading the compose file ----------------------------------------------------------------------


def interpolate(value: str, environment: Mapping[str, str]) -> str:
    """Compose's `${NAME}`, `${NAME:-default}` and `${NAME:?message}` (an error when NAME is
    unset or empty), with `environment` as the shell's; `$$` is a dollar."""

    def one(match: re.Match[str]) -> str:
        if match[0] == "$$":
            return "$"
        name, operator, word = match["name"], match["operator"], match["word"] or ""
        value = environment.get(name, "")
        if value:
            return value
        if operator == ":?":
            raise ValueError(f"{name} is required: {word}")
        return word if operator == ":-" else ""

    return re.sub(r"\$\$|\$\{(?P<name>\w+)(?:(?P<operator>:[-?])(?P<word>[^}]*))?\}", one, value)


def load_compose(text: str, environment: Mapping[str, str]) -> dict[str, Any]:
    """The compose document as compose reads it: interpolated, and with no value shared
    between services (YAML anchors and merges give each service the same object)."""

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            return {key: walk(value) for key, value in node.items()}
        if isinstance(node, list):
            return [walk(value) for value in node]
        return interpolate(node, environment) if isinstance(node, str) else node

    return json.loads(json.dumps(walk(yaml.safe_load(text))))


def read_repository_file(path: str) -> str:
    return (ROOT / path).read_text()


COMPOSE_TEXT = (ROOT / "docker-compose.yml").read_text()
COMPOSE = load_compose(COMPOSE_TEXT, USER_ENVIRONMENT)


# Reading nginx's configuration -----------------------------------------------------------------


@dataclass(frozen=True)
class Directive:
    name: str
    args: tuple[str, ...]
    block: tuple[Directive, ...] = ()

    def all(self, name: str) -> list[Directive]:
        """The directives called `name` in this block and in the blocks within it."""
        found = []
        for directive in self.block:
            if directive.name == name:
                found.append(directive)
            found += directive.all(name)
        return found


def parse_nginx(text: str) -> Directive:
    """nginx's configuration as a tree of directives (comments dropped, quotes removed)."""
    text = re.sub(r"#[^\n]*", "", text)
    tokens = iter(re.findall(r'"[^"]*"|\'[^\']*\'|[{};]|[^\s{};]+', text))

    def block() -> tuple[Directive, ...]:
        directives, words = [], []
        for token in tokens:
            if token == ";":
                directives.append(Directive(words[0], tuple(words[1:])))
                words = []
            elif token == "{":
                directives.append(Directive(words[0], tuple(words[1:]), block()))
                words = []
            elif token == "}":
                break
            else:
                words.append(token.strip("\"'") if token[0] in "\"'" else token)
        assert not words, f"a directive without its ';': {words}"
        return tuple(directives)

    return Directive("main", (), block())


def nginx_size(value: str) -> int:
    units = {"k": 1024, "m": 1024**2, "g": 1024**3}
    return int(value[:-1]) * units[value[-1].lower()] if value[-1].isalpha() else int(value)


# The deployment, as the checks see it ----------------------------------------------------------


@cache
def _iki() -> Any:
    return typer.main.get_command(cli)


def iki_command_exists(path: tuple[str, ...]) -> bool:
    """Whether `iki <path...>` is a command of app.cli's typer app (a group of commands,
    like `keys`, is not one: it needs its subcommand)."""
    command = _iki()
    for word in path:
        if word not in getattr(command, "commands", {}):
            return False
        command = command.commands[word]
    return not hasattr(command, "commands")


@dataclass(frozen=True)
class Deployment:
    """The parsed compose file, and a reader of the repository's files that it mounts."""

    compose: dict[str, Any]
    read: Callable[[str], str] = read_repository_file

    @property
    def services(self) -> dict[str, dict[str, Any]]:
        return self.compose.get("services") or {}

    def built_here(self, name: str) -> bool:
        build = self.services[name].get("build")
        return build == "." or (isinstance(build, dict) and build.get("context") == ".")

    def words(self, name: str) -> list[str]:
        """What the service runs: its command, else the image's (this Dockerfile's CMD)."""
        command = self.services[name].get("command")
        if command is None:
            command = ["sh", "-c", start_script()] if self.built_here(name) else []
        words = shlex.split(command) if isinstance(command, str) else [str(w) for w in command]
        if words[:2] == ["sh", "-c"] and len(words) == 3:
            script = shlex.shlex(words[2], posix=True, punctuation_chars=True)
            script.whitespace_split = True
            return list(script)
        return words

    def iki_calls(self, name: str) -> list[tuple[str, ...]]:
        """Each `iki` the service runs, as its subcommand path (`("keys", "create")`)."""
        words, calls = self.words(name), []
        for start, word in enumerate(words):
            if word != "iki":
                continue
            node, path = _iki(), []
            for following in words[start + 1 :]:
                if not hasattr(node, "commands"):
                    break  # a command: what follows are its arguments
                path.append(following)
                node = node.commands.get(following)
                if node is None:
                    break  # no such subcommand (check_commands names it)
            calls.append(tuple(path))
        return calls

    def running(self, subcommand: str) -> list[str]:
        return [name for name in self.services if (subcommand,) in self.iki_calls(name)]

    @property
    def replicas(self) -> list[str]:
        return self.running("serve")

    def environment(self, name: str) -> dict[str, str]:
        given = self.services[name].get("environment") or {}
        if isinstance(given, list):
            given = dict(item.partition("=")[::2] for item in given)
        return {key: "" if value is None else str(value) for key, value in given.items()}

    def url_hosts(self, name: str) -> set[str]:
        """The services that the service's URL settings (DATABASE_URL, ...) name."""
        hosts = set()
        for key, value in self.environment(name).items():
            if key.endswith("_URL") and "://" in value:
                hosts.add(make_url(value).host)
        return hosts & set(self.services)

    def depends_on(self, name: str) -> dict[str, str]:
        """The services `name` waits for, with the condition it waits for."""
        given = self.services[name].get("depends_on") or {}
        if isinstance(given, list):
            return dict.fromkeys(given, "service_started")
        return {dep: (how or {}).get("condition", "service_started") for dep, how in given.items()}

    def healthcheck(self, name: str) -> list[str] | None:
        """The health probe's words; None without one (or with it disabled)."""
        check = self.services[name].get("healthcheck")
        if not check or check.get("disable"):
            return None
        test = check.get("test")
        words = ["CMD-SHELL", test] if isinstance(test, str) else list(test or [])
        return None if not words or words[0] == "NONE" else words

    def listening_port(self, name: str) -> int:
        """The port `iki serve` listens on in the service: PORT, else the image's."""
        port = self.environment(name).get("PORT") or env_values().get("PORT")
        return int(port or Settings.model_fields["port"].default)

    @property
    def proxy(self) -> str | None:
        found = [
            n for n, s in self.services.items() if str(s.get("image", "")).startswith("nginx:")
        ]
        return found[0] if len(found) == 1 else None

    def proxy_config(self) -> Directive:
        assert self.proxy
        for volume in self.services[self.proxy].get("volumes") or []:
            source, _, target = str(volume).partition(":")
            if target.split(":")[0] == PROXY_CONFIG_MOUNT:
                return parse_nginx(self.read(source.removeprefix("./")))
        raise FileNotFoundError(f"nothing is mounted as {PROXY_CONFIG_MOUNT}")

    def published(self, name: str) -> list[tuple[str, int]]:
        """The service's published ports: (host port, container port)."""
        ports = []
        for port in self.services[name].get("ports") or []:
            if isinstance(port, dict):
                ports.append((str(port.get("published", "")), int(port["target"])))
            else:
                *host, target = str(port).split(":")
                ports.append((":".join(host), int(target.split("/")[0])))
        return ports


# The checks: each yields what is wrong, in words that name it -----------------------------------

Problems = Iterator[str]


def check_images(d: Deployment) -> Problems:
    for name, service in d.services.items():
        image = service.get("image")
        if not image and not d.built_here(name):
            yield f"{name} has neither an image nor this repository's build"
        elif image and (":latest" in image or not re.fullmatch(r"[\w./-]+:[\w.-]+", image)):
            yield f"{name}'s image {image} is not pinned to a version"


def check_commands(d: Deployment) -> Problems:
    for name in d.services:
        for path in d.iki_calls(name):
            if not iki_command_exists(path):
                yield f"{name} runs `iki {' '.join(path)}`, which app.cli does not have"
    if len(d.replicas) < 2:
        yield f"two app replicas must run `iki serve`, found {d.replicas}"
    if not d.running("worker"):
        yield "no service runs `iki worker`"
    migrators = d.running("migrate")
    if len(migrators) != 1:
        yield f"one service must run `iki migrate`, found {migrators}"
    elif d.iki_calls(migrators[0]) != [("migrate",), ("seed",)]:
        yield f"{migrators[0]} must run `iki migrate` then `iki seed`"
    for name in [*d.replicas, *d.running("worker")]:
        if len(d.iki_calls(name)) != 1:
            yield f"{name} runs more than its one command: {d.iki_calls(name)}"


def _url_host(d: Deployment, name: str, setting: str, image: str) -> Problems:
    """The service that `setting` of `name` points at is one of the image `image`."""
    host = make_url(d.environment(name)[setting]).host
    if host not in d.services:
        yield f"{name}'s {setting} names {host}, which is not a service"
    elif not str(d.services[host].get("image", "")).startswith(f"{image}:"):
        yield f"{name}'s {setting} names {host}, which is not a {image} service"


def check_environment(d: Deployment) -> Problems:
    iki = [name for name in d.services if d.built_here(name)]
    for name in iki:
        environment = d.environment(name)
        unknown = sorted(k for k in environment if k.lower() not in Settings.model_fields)
        for key in unknown:
            yield f"{name} sets {key}, which is no setting of app.core.config.Settings"
        try:
            Settings(_env_file=None, **{k.lower(): v for k, v in environment.items()})  # type: ignore[call-arg]
        except ValidationError as error:
            yield f"{name}'s settings are refused: {error}"
        if "DATABASE_URL" not in environment:
            yield f"{name} does not set DATABASE_URL"
            continue
        yield from _url_host(d, name, "DATABASE_URL", "postgres")
    # One database and one webhook key for all; one throttle count for the replicas.
    for setting, services in (
        ("DATABASE_URL", iki),
        ("WEBHOOK_ENCRYPTION_KEY", [*d.replicas, *d.running("worker")]),
        ("RATE_LIMIT_STORAGE_URL", d.replicas),
    ):
        values = {name: d.environment(name).get(setting) for name in services}
        for name, value in values.items():
            if not value:
                yield f"{name} does not set {setting}"
        if len({value for value in values.values() if value}) > 1:
            yield f"{setting} differs between {sorted(values)}"
    for name in d.replicas:
        if d.environment(name).get("RATE_LIMIT_STORAGE_URL", "").startswith("redis://"):
            yield from _url_host(d, name, "RATE_LIMIT_STORAGE_URL", "redis")
        else:
            yield f"{name}'s RATE_LIMIT_STORAGE_URL is not a redis:// URL"


def check_database(d: Deployment) -> Problems:
    """The database URL's credentials are the ones the PostgreSQL service is made with."""
    for name in d.running("migrate"):
        url = make_url(d.environment(name).get("DATABASE_URL", "sqlite://"))
        if url.host not in d.services:
            continue  # named by check_environment
        db = d.environment(url.host)
        expected = (db.get("POSTGRES_USER"), db.get("POSTGRES_PASSWORD"), db.get("POSTGRES_DB"))
        if (url.username, url.password, url.database) != expected or url.port != 5432:
            yield f"{name}'s DATABASE_URL does not match the {url.host} service's user and database"
        mounts = [str(v).split(":") for v in d.services[url.host].get("volumes") or []]
        if not any(
            v[0] in (d.compose.get("volumes") or {}) and v[1] == "/var/lib/postgresql/data"
            for v in mounts
        ):
            yield f"{url.host} keeps its data in no named volume: it would go with the container"
        probe = d.healthcheck(url.host) or []
        if probe[:1] == ["CMD-SHELL"]:
            words = shlex.split(probe[1])
            flags = {flag: words[words.index(flag) + 1] for flag in ("-U", "-d") if flag in words}
            if words[0] != "pg_isready" or flags != {"-U": expected[0], "-d": expected[2]}:
                yield f"{url.host}'s healthcheck does not probe its own user and database"


def check_health(d: Deployment) -> Problems:
    needed = {host for name in d.replicas for host in d.url_hosts(name)}
    for name in sorted(needed) + d.replicas:
        if d.healthcheck(name) is None:
            yield f"{name} has no healthcheck"
    for name in d.replicas:
        probe = " ".join(d.healthcheck(name) or [])
        target = re.search(r"http://127\.0\.0\.1:(\d+)(/\w+)", probe)
        routes = app.openapi()["paths"]
        if probe and not (
            target and int(target[1]) == d.listening_port(name) and target[2] in routes
        ):
            yield f"{name}'s healthcheck does not probe the app on port {d.listening_port(name)}"
    # The image's HEALTHCHECK probes a server: a container of the image that serves none
    # (the migration, the worker) would be unhealthy for ever unless it turns it off.
    for name in d.services:
        check = d.services[name].get("healthcheck")
        if d.built_here(name) and name not in d.replicas and not (check and check.get("disable")):
            yield f"{name} keeps the image's healthcheck, but serves nothing"


def _cycle(d: Deployment) -> list[str] | None:
    """A cycle of dependencies, if there is one."""
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> list[str] | None:
        if name in path:
            return [*path[path.index(name) :], name]
        if name in done or name not in d.services:
            return None
        for dep in d.depends_on(name):
            if cycle := visit(dep, [*path, name]):
                return cycle
        done.add(name)
        return None

    return next(filter(None, (visit(name, []) for name in d.services)), None)


def check_dependencies(d: Deployment) -> Problems:
    for name in d.services:
        for dep, condition in d.depends_on(name).items():
            if dep not in d.services:
                yield f"{name} depends on {dep}, which is not a service"
            elif condition not in CONDITIONS:
                yield f"{name} waits for {dep} with {condition}, not one of {sorted(CONDITIONS)}"
            elif condition == "service_healthy" and d.healthcheck(dep) is None:
                yield f"{name} waits for {dep} to be healthy, but {dep} has no healthcheck"
            elif condition == "service_completed_successfully" and d.services[dep].get(
                "restart", "no"
            ) not in ("no", "on-failure"):
                yield f"{name} waits for {dep} to complete, but {dep} restarts when it does"
    if cycle := _cycle(d):
        yield f"a cycle of dependencies: {' -> '.join(cycle)}"
    # Whatever a service's URLs name (the database, Redis) is up before it starts, and the
    # schema is migrated before a replica or the worker uses it.
    migrators = d.running("migrate")
    for name in [*d.replicas, *d.running("worker"), *migrators]:
        waits = d.depends_on(name)
        for host in sorted(d.url_hosts(name)):
            if waits.get(host) != "service_healthy":
                yield f"{name} does not wait for {host} to be healthy"
        migrated = migrators[0] if len(migrators) == 1 else name
        if migrated != name and waits.get(migrated) != "service_completed_successfully":
            yield f"{name} does not wait for {migrated} to complete"


def check_proxy(d: Deployment) -> Problems:
    publishing = [name for name in d.services if d.published(name)]
    if d.proxy is None:
        yield "no proxy: one service of an nginx image"
        return
    if publishing != [d.proxy]:
        yield f"only the proxy publishes a port; publishing: {publishing}"
    try:
        config = d.proxy_config()
    except OSError as error:
        yield f"the proxy's configuration cannot be read: {error}"
        return
    listening = {int(listen.args[0].rpartition(":")[2]) for listen in config.all("listen")}
    for host_port, target in d.published(d.proxy):
        if target not in listening:
            yield f"the proxy publishes {host_port}:{target}, but nginx listens on {listening}"
    upstreams = {u.args[0]: u for u in config.all("upstream")}
    passes = [p.args[0].removeprefix("http://") for p in config.all("proxy_pass")]
    if not passes or any(p not in upstreams for p in passes):
        yield f"the proxy passes to {passes}, not to its upstream {sorted(upstreams)}"
    replicas = {f"{name}:{d.listening_port(name)}" for name in d.replicas}
    for upstream in upstreams.values():
        servers = {s.args[0] for s in upstream.all("server")}
        for server in sorted(servers - replicas):
            yield f"the proxy's upstream {upstream.args[0]} names {server}, not an app replica"
        for server in sorted(replicas - servers):
            yield f"the proxy's upstream {upstream.args[0]} leaves out {server}"
        resolving = any("resolve" in s.args for s in upstream.all("server"))
        if resolving and not (upstream.all("zone") and config.all("resolver")):
            yield "nginx refuses `server ... resolve` without a `zone` and a `resolver`"
    headers = {h.args[0].lower(): h.args[1] for h in config.all("proxy_set_header")}
    for header, value in (
        ("x-forwarded-for", "$proxy_add_x_forwarded_for"),
        ("x-forwarded-proto", "$scheme"),
    ):
        if headers.get(header) != value:
            yield f"the proxy does not pass {header} as {value}"
    body = [nginx_size(b.args[0]) for b in config.all("client_max_body_size")] or [1024**2]
    if min(body) < Settings.model_fields["max_import_bytes"].default:
        yield "the proxy's client_max_body_size refuses imports that the app accepts"


def check_trust(d: Deployment) -> Problems:
    """The replicas believe X-Forwarded-For from the proxy's fixed address, and from no other."""
    if d.proxy is None:
        return
    network = (d.services[d.proxy].get("networks") or {}).get("default") or {}
    address = network.get("ipv4_address")
    if not address:
        yield "the proxy has no fixed address for the replicas to trust"
        return
    proxy = ipaddress.ip_address(address)
    for config in (
        (d.compose.get("networks") or {}).get("default", {}).get("ipam", {}).get("config", [])
    ):
        subnet, dynamic = ipaddress.ip_network(config["subnet"]), config.get("ip_range")
        if proxy not in subnet or (dynamic and proxy in ipaddress.ip_network(dynamic)):
            yield f"the proxy's address {proxy} is not a fixed one of {subnet} outside {dynamic}"
    for name in d.replicas:
        trusted = [i.strip() for i in d.environment(name).get("TRUSTED_PROXIES", "").split(",")]
        networks = [ipaddress.ip_network(t, strict=False) for t in trusted if t]
        if not networks or any(n.num_addresses != 1 or proxy not in n for n in networks):
            yield f"{name} trusts {trusted}, not the proxy's {proxy} alone"


CHECKS = (
    check_images,
    check_commands,
    check_environment,
    check_database,
    check_health,
    check_dependencies,
    check_proxy,
    check_trust,
)


def wiring_problems(deployment: Deployment) -> list[str]:
    """Everything wrong with the deployment's wiring; none when it holds together."""
    return [problem for check in CHECKS for problem in check(deployment)]


# The tests -------------------------------------------------------------------------------------


def test_the_compose_file_is_wired_together():
    assert wiring_problems(Deployment(COMPOSE)) == []


def test_the_roles_are_the_ones_the_header_describes():
    d = Deployment(COMPOSE)
    assert d.replicas == ["app1", "app2"]
    assert d.running("worker") == ["worker"]
    assert d.running("migrate") == ["migrate"]
    assert d.proxy == "proxy" and d.published("proxy") == [("8000", 80)]
    header = COMPOSE_TEXT.partition("\n\n")[0]
    assert "`docker compose up`" in header
    assert "`docker compose logs app1`" in header  # the first to start makes the admin key


def test_without_a_webhook_key_compose_refuses_to_start_and_says_how_to_make_one():
    with pytest.raises(
        ValueError, match=r"WEBHOOK_ENCRYPTION_KEY is required.*top of docker-compose"
    ):
        load_compose(COMPOSE_TEXT, {})
    made = re.search(
        r"echo \"WEBHOOK_ENCRYPTION_KEY=\$\(python3 -c '(.*)'\)\" >> \.env", COMPOSE_TEXT
    )
    assert made, "the header shows how to make the key"
    printed = subprocess.run(
        [sys.executable, "-c", made[1]], capture_output=True, text=True, timeout=30, check=True
    )
    Fernet(printed.stdout.strip())  # a Fernet key, as Settings demands


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """A break: set the value at `path` (keys separated by /) of the compose document."""

    def apply(compose: dict[str, Any]) -> None:
        *parents, last = path.split("/")
        node = compose
        for key in parents:
            node = node[key]
        node[last] = value

    return apply


def _drop(path: str) -> Callable[[dict[str, Any]], None]:
    def apply(compose: dict[str, Any]) -> None:
        *parents, last = path.split("/")
        node = compose
        for key in parents:
            node = node[key]
        del node[last]

    return apply


def _rename(path: str, old: str, new: str) -> Callable[[dict[str, Any]], None]:
    def apply(compose: dict[str, Any]) -> None:
        node = compose
        for key in path.split("/"):
            node = node[key]
        node[new] = node.pop(old)

    return apply


def _in_proxy_config(old: str, new: str) -> Callable[[str], str]:
    def read(path: str) -> str:
        text = read_repository_file(path)
        assert old in text, f"{old!r} is not in {path}"
        return text.replace(old, new)

    return read


S = "services"
BREAKS: list[
    tuple[str, Callable[[dict[str, Any]], None] | None, Callable[[str], str] | None, str]
] = [
    (
        "depends_on typo",
        _rename(f"{S}/app1/depends_on", "db", "dbb"),
        None,
        "app1 depends on dbb, which is not a service",
    ),
    (
        "worker command",
        _set(f"{S}/worker/command", ["iki", "wroker"]),
        None,
        "worker runs `iki wroker`",
    ),
    ("no redis healthcheck", _drop(f"{S}/redis/healthcheck"), None, "redis has no healthcheck"),
    ("no replica healthcheck", _drop(f"{S}/app2/healthcheck"), None, "app2 has no healthcheck"),
    (
        "upstream elsewhere",
        None,
        _in_proxy_config("server app2:8000", "server app3:8000"),
        "names app3:8000, not an app replica",
    ),
    (
        "upstream port",
        None,
        _in_proxy_config("server app1:8000", "server app1:8080"),
        "names app1:8080",
    ),
    (
        "unknown setting",
        _rename(f"{S}/app1/environment", "WORKERS", "WORKER"),
        None,
        "app1 sets WORKER, which is no setting",
    ),
    (
        "redis elsewhere",
        _set(f"{S}/app2/environment/RATE_LIMIT_STORAGE_URL", "redis://cache:6379/0"),
        None,
        "app2's RATE_LIMIT_STORAGE_URL names cache, which is not a service",
    ),
    (
        "database elsewhere",
        _set(
            f"{S}/worker/environment/DATABASE_URL", "postgresql+psycopg://iki:iki@postgres:5432/iki"
        ),
        None,
        "worker's DATABASE_URL names postgres, which is not a service",
    ),
    (
        "another webhook key",
        _set(f"{S}/worker/environment/WEBHOOK_ENCRYPTION_KEY", Fernet.generate_key().decode()),
        None,
        "WEBHOOK_ENCRYPTION_KEY differs",
    ),
    (
        "no webhook key",
        _drop(f"{S}/app1/environment/WEBHOOK_ENCRYPTION_KEY"),
        None,
        "app1 does not set WEBHOOK_ENCRYPTION_KEY",
    ),
    (
        "a cycle",
        _set(f"{S}/db/depends_on", {"app1": {"condition": "service_started"}}),
        None,
        "a cycle of dependencies: ",
    ),
    (
        "db only started",
        _set(f"{S}/app2/depends_on/db/condition", "service_started"),
        None,
        "app2 does not wait for db to be healthy",
    ),
    (
        "no condition like it",
        _set(f"{S}/worker/depends_on/db/condition", "service_ready"),
        None,
        "worker waits for db with service_ready",
    ),
    (
        "worker before migration",
        _drop(f"{S}/worker/depends_on/migrate"),
        None,
        "worker does not wait for migrate to complete",
    ),
    (
        "the image's start",
        _drop(f"{S}/app2/command"),
        None,
        "one service must run `iki migrate`, found ['migrate', 'app2']",
    ),
    (
        "a replica published",
        _set(f"{S}/app1/ports", ["8001:8000"]),
        None,
        "only the proxy publishes a port",
    ),
    (
        "published elsewhere",
        _set(f"{S}/proxy/ports", ["8000:8000"]),
        None,
        "the proxy publishes 8000:8000, but nginx listens on {80}",
    ),
    (
        "trust everybody",
        _set(f"{S}/app1/environment/TRUSTED_PROXIES", "0.0.0.0/0"),
        None,
        "app1 trusts ['0.0.0.0/0']",
    ),
    (
        "no forwarded client",
        None,
        _in_proxy_config("X-Forwarded-For $proxy_add", "X-Real-IP $proxy_add"),
        "does not pass x-forwarded-for",
    ),
    (
        "worker probed",
        _drop(f"{S}/worker/healthcheck"),
        None,
        "worker keeps the image's healthcheck",
    ),
    ("database not kept", _drop(f"{S}/db/volumes"), None, "db keeps its data in no named volume"),
    (
        "latest image",
        _set(f"{S}/redis/image", "redis:latest"),
        None,
        "redis's image redis:latest is not pinned",
    ),
]


@pytest.mark.parametrize(
    ("change", "read", "named"), [b[1:] for b in BREAKS], ids=[b[0] for b in BREAKS]
)
def test_a_deliberate_break_is_named(change, read, named):
    broken = copy.deepcopy(COMPOSE)
    if change:
        change(broken)
    problems = wiring_problems(Deployment(broken, read or read_repository_file))
    assert any(named in problem for problem in problems), problems


def test_the_nginx_reader_reads_blocks_and_quotes():
    config = parse_nginx('upstream u { server a:1 resolve; } # x\nserver { location / { h "" ; } }')
    assert [s.args for s in config.all("server")] == [("a:1", "resolve"), ()]
    assert config.all("h")[0].args == ("",)
    assert nginx_size("20m") == 20 * 1024**2 and nginx_size("512") == 512
