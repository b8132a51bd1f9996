"""The house rules ARCHITECTURE.md promises, checked on the source: a pure domain, services
that know no HTTP and own their transactions, an HTTP layer nobody else leans on,
migrations that hold their own data, and configuration read in one place."""
import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "scheduler"
DOMAIN = PACKAGE / "domain"
SERVICES = PACKAGE / "services"
MIGRATIONS = ROOT / "migrations"
FRAMEWORKS = {"flask", "flask_sqlalchemy", "flask_migrate", "flask_smorest", "sqlalchemy",
              "alembic", "twilio", "apscheduler", "marshmallow", "webargs", "requests",
              "httpx", "psycopg", "psycopg2"}


def _parse(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _imports(tree: ast.Module):
    """(top-level module, relative level) of every import, nested ones included."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name.split(".")[0], 0, node.lineno
        elif isinstance(node, ast.ImportFrom):
            yield (node.module or "").split(".")[0], node.level, node.lineno


DOMAIN_FILES = sorted(DOMAIN.rglob("*.py"))


def test_domain_package_has_modules_to_check():
    assert len(DOMAIN_FILES) >= 3


@pytest.mark.parametrize("path", DOMAIN_FILES, ids=lambda p: p.name)
def test_domain_imports_no_framework_database_or_vendor_library(path):
    offenders = [f"{path.name}:{line} imports {module}"
                 for module, level, line in _imports(_parse(path))
                 if level == 0 and module in FRAMEWORKS]
    assert offenders == []


@pytest.mark.parametrize("path", DOMAIN_FILES, ids=lambda p: p.name)
def test_domain_imports_nothing_outside_the_domain_package(path):
    # `from ..models import X` would pull SQLAlchemy in through the back door.
    depth = len(path.relative_to(DOMAIN).parts)  # 1 for domain/x.py
    offenders = [f"{path.name}:{line}" for module, level, line in _imports(_parse(path))
                 if level > depth or (level == 0 and module == "scheduler")]
    assert offenders == []


def _names_a_datetime_class(node) -> bool:
    # datetime.now(...), date.today(), dt.datetime.now(...), datetime.datetime.utcnow()
    if isinstance(node, ast.Name):
        return node.id in {"datetime", "date", "dt"}
    return isinstance(node, ast.Attribute) and node.attr in {"datetime", "date"}


@pytest.mark.parametrize("path", DOMAIN_FILES, ids=lambda p: p.name)
def test_domain_never_reads_the_wall_clock(path):
    # "now" is injected (ARCHITECTURE.md: no hidden clock), so tests never sleep.
    offenders = [f"{path.name}:{node.lineno} calls {node.func.attr}()"
                 for node in ast.walk(_parse(path))
                 if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                 and node.func.attr in {"now", "utcnow", "today"}
                 and _names_a_datetime_class(node.func.value)]
    assert offenders == []


def _environment_reads(tree: ast.Module):
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in {"environ", "environb", "getenv",
                                                              "putenv", "unsetenv"}:
            yield node.lineno, node.attr
        elif isinstance(node, ast.ImportFrom) and node.module == "os":
            for alias in node.names:
                if alias.name in {"environ", "environb", "getenv"}:
                    yield node.lineno, alias.name
        elif isinstance(node, ast.Name) and node.id == "getenv":
            yield node.lineno, node.id


def test_only_config_reads_the_environment():
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path == PACKAGE / "config.py":
            continue
        offenders += [f"{path.relative_to(PACKAGE.parent)}:{line} uses {what}"
                      for line, what in _environment_reads(_parse(path))]
    assert offenders == []


def test_config_does_read_the_environment():
    # Guards the check above against silently looking at nothing.
    assert list(_environment_reads(_parse(PACKAGE / "config.py")))


def _absolute_imports(path: Path):
    """(dotted module, line) of every import in a file under the repository, relative
    imports resolved against the file's package."""
    package = list(path.relative_to(ROOT).parts[:-1])  # a module's package, or an __init__'s own
    for node in ast.walk(_parse(path)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
                names = [module] if node.module else [f"{module}.{a.name}" for a in node.names]
            else:
                names = [node.module]
            for name in names:
                yield name, node.lineno


def _offenders(paths, forbidden):
    return [f"{path.relative_to(ROOT)}:{line} imports {module}"
            for path in paths for module, line in _absolute_imports(path) if forbidden(module)]


def _under(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


# The app factory wires the API in; the front desk's web app may use the API's auth helpers.
MAY_IMPORT_API = {PACKAGE / "__init__.py"} | set((PACKAGE / "desk").rglob("*.py"))


def test_nothing_outside_the_api_imports_it():
    paths = [p for p in PACKAGE.rglob("*.py")
             if PACKAGE / "api" not in p.parents and p not in MAY_IMPORT_API]
    assert _offenders(paths, lambda m: _under(m, "scheduler.api")) == []


def test_the_check_above_sees_relative_imports():
    # Guards the walk against silently resolving nothing: create_app does import the API.
    assert any(_under(m, "scheduler.api") for m, _ in _absolute_imports(PACKAGE / "__init__.py"))


HTTP_LIBRARIES = ("flask", "werkzeug", "marshmallow", "webargs", "apispec")


def _is_http(module: str) -> bool:
    root = module.split(".")[0]
    return root in HTTP_LIBRARIES or root.startswith("flask_")


@pytest.mark.parametrize("layer", [DOMAIN, SERVICES], ids=lambda p: p.name)
def test_services_and_domain_import_no_flask_nor_http(layer):
    # Services reach the database through extensions.db (Flask-SQLAlchemy's session) and
    # are handed everything else (now, the actor and request id, secrets, settings).
    assert _offenders(sorted(layer.rglob("*.py")), _is_http) == []


def test_services_import_neither_api_nor_jobs():
    assert _offenders(sorted(SERVICES.rglob("*.py")),
                      lambda m: _under(m, "scheduler.api") or _under(m, "scheduler.jobs")) == []


def test_domain_imports_only_the_standard_library_and_itself():
    def foreign(module):
        root = module.split(".")[0]
        return not (_under(module, "scheduler.domain") or module == "__future__"
                    or (root != "scheduler" and root in sys.stdlib_module_names))
    assert _offenders(DOMAIN_FILES, foreign) == []


TRANSACTION = SERVICES / "platform" / "transaction.py"


def test_services_begin_commit_and_roll_back_only_through_write_transaction():
    offenders = []
    for path in sorted(SERVICES.rglob("*.py")):
        if path == TRANSACTION:
            continue
        for node in ast.walk(_parse(path)):
            name = node.attr if isinstance(node, ast.Attribute) else getattr(node, "id", None)
            if isinstance(node, (ast.Attribute, ast.Name)) and name in {"commit", "rollback", "begin_write"}:
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} uses {name}")
    assert offenders == []


MIGRATION_FILES = sorted(MIGRATIONS.rglob("*.py"))


def test_there_are_migrations_to_check():
    assert len(MIGRATION_FILES) >= 5


@pytest.mark.parametrize("path", MIGRATION_FILES, ids=lambda p: p.name)
def test_migrations_never_import_application_code(path):
    # A migration is history: it holds its own copy of any data, so changing the
    # application's defaults never changes what upgrading an old database does.
    assert _offenders([path], lambda m: _under(m, "scheduler")) == []
