"""The house rules ARCHITECTURE.md promises, checked on the source: a pure domain, and
configuration read in one place."""
import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "scheduler"
DOMAIN = PACKAGE / "domain"
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
