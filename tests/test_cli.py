"""The `iki` command, run as a user would, against its own SQLite database."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def iki(tmp_path):
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
        "SEED_DIR": str(ROOT / "seed"),
        "PYTHONPATH": str(ROOT),
    }
    env.pop("TEST_DATABASE_URL", None)

    def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "-m", "app.cli", *args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if check:
            assert result.returncode == 0, result.stderr
        return result

    return run


def test_migrate_seed_and_manage_keys(iki):
    iki("migrate")
    first = iki("seed")
    assert "39" in first.stderr or "created" in first.stderr
    again = iki("seed")
    assert "files loaded: none" in again.stderr and "0 rows created, 0 updated" in again.stderr

    created = iki("keys", "create", "--name", "esakip", "--role", "reader")
    secret = created.stdout.strip()
    assert secret.startswith("iki_") and "\n" not in secret

    operator = iki("keys", "create", "--name", "psm", "--role", "operator", "--unit", "BID_PSM")
    assert operator.stdout.strip().startswith("iki_")
    unscoped = iki("keys", "create", "--name", "x", "--role", "operator", check=False)
    assert unscoped.returncode == 1 and "unit" in unscoped.stderr
    duplicate = iki("keys", "create", "--name", "esakip", "--role", "reader", check=False)
    assert duplicate.returncode == 1

    listing = iki("keys", "list").stdout
    assert "esakip\treader" in listing and "BID_PSM" in listing
    assert secret not in listing

    iki("keys", "revoke", "esakip")
    assert "esakip\treader" in iki("keys", "list").stdout
    assert iki("keys", "revoke", "nobody", check=False).returncode == 1


def test_migrate_from_an_installed_package(tmp_path):
    """As in the Docker image: the package is installed elsewhere, the command runs in the
    folder that holds alembic.ini, migrations/ and seed/."""
    import shutil

    site, home = tmp_path / "site", tmp_path / "home"
    shutil.copytree(ROOT / "app", site / "app", ignore=shutil.ignore_patterns("__pycache__"))
    home.mkdir()
    shutil.copy(ROOT / "alembic.ini", home)
    shutil.copytree(ROOT / "migrations", home / "migrations")
    shutil.copytree(ROOT / "seed", home / "seed")
    env = {**os.environ, "PYTHONPATH": str(site), "DATABASE_URL": "sqlite:///data/iki.db"}
    for name in ("TEST_DATABASE_URL", "SEED_DIR"):
        env.pop(name, None)
    for command in ("migrate", "seed"):
        result = subprocess.run(
            [sys.executable, "-m", "app.cli", command],
            cwd=home,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
    assert (home / "data" / "iki.db").is_file()


def test_migrations_of_another_project_are_not_used(tmp_path, monkeypatch):
    import pytest

    from app.core import migrations

    (tmp_path / "migrations").mkdir()
    (tmp_path / "alembic.ini").write_text("[alembic]\n")
    (tmp_path / "migrations" / "env.py").write_text("import other_project.models\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(migrations, "__file__", str(tmp_path / "site" / "app" / "core" / "m.py"))
    with pytest.raises(RuntimeError, match="not found"):
        migrations.project_root()
    (tmp_path / "migrations" / "env.py").write_text("import app.models\n")
    assert migrations.project_root() == tmp_path
