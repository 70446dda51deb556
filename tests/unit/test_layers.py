"""What import-linter's contracts (pyproject.toml, run by scripts/test) do not say.

The layers and "no import circle" are import-linter's; here: blueprints stay
apart from each other, the version comes from version.py, services are
reached through their accessor, and what importing a stage loads at run time.
"""
import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "pandora_v1"


def imports_of(path: Path) -> set[str]:
    """Module names ``path`` imports, resolved to ``pandora_v1.…`` for relative imports."""
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    package = parts[:-1] if parts[-1] != "__init__" else parts
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else ()
            module = ".".join(base + tuple((node.module or "").split("."))).strip(".")
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def modules():
    return [p for p in PACKAGE.rglob("*.py")]


def test_no_blueprint_imports_another_and_only_the_factory_imports_blueprints():
    for path in modules():
        imported = {m for m in imports_of(path) if m.startswith("pandora_v1.blueprints.")}
        own = {"pandora_v1.blueprints.common"}
        if path.name == "app.py" and path.parent == PACKAGE:
            continue                                   # create_app registers them
        if path.parent.name == "blueprints":
            # common.py is the routes' shared helpers, not a blueprint
            assert all(m in own or m.startswith("pandora_v1.blueprints.common.") for m in imported), path
        else:
            assert not imported, f"{path.name} imports a blueprint: {imported}"


def test_nothing_inside_imports_the_package_init():
    for path in modules():
        if path.name == "__init__.py" and path.parent == PACKAGE:
            continue
        for module in imports_of(path):
            assert module != "pandora_v1.__version__", f"{path.name}: import version from pandora_v1.version"


def test_services_are_reached_only_through_their_accessor():
    for path in modules():
        if path.name != "services.py":
            assert 'extensions["pandora_v1"]' not in path.read_text(), path


def loaded_by(imports: str, packages: tuple[str, ...], modules: tuple[str, ...] = ()) -> list[str]:
    """Which of ``packages`` (top-level names) and ``modules`` a fresh Python has loaded after ``imports``."""
    code = (f"import sys, {imports}; print(sorted(m for m in sys.modules "
            f"if m.split('.')[0] in {packages!r} or m in {modules!r}))")
    out = subprocess.run([sys.executable, "-c", code], cwd=PACKAGE.parent, capture_output=True, text=True,
                         check=True).stdout.strip()
    return ast.literal_eval(out)   # a printed list of module names


def test_the_pure_request_stage_loads_no_network_code():
    assert loaded_by("pandora_v1.translate.request, pandora_v1.translate.stream",
                     ("requests", "urllib3", "flask"), ("pandora_v1.files.uploads", "pandora_v1.upstream.client")) == []


def test_the_app_loads_no_tiktoken():
    """tiktoken and its tables belong to the token server (and the fallback, on first use):
    a worker that imported it at start would pay its memory for nothing."""
    assert loaded_by("pandora_v1.app, pandora_v1.usage.tokens, pandora_v1.usage.server",
                     ("tiktoken", "tiktoken_ext"), ("pandora_v1.usage.tables",)) == []


def test_the_modules_the_master_shares_load_no_network_code():
    """serve/gunicorn_conf.py imports these before the fork: gevent patches sockets in each worker
    after it, so none may have bound a socket, an HTTP client or gevent itself by then. (Read from
    the file: importing the gunicorn config would load the config and set the master's environment.)"""
    tree = ast.parse((PACKAGE / "serve" / "gunicorn_conf.py").read_text())
    [SHARED_MODULES] = [ast.literal_eval(node.value) for node in tree.body if isinstance(node, ast.Assign)
                        and any(getattr(t, "id", None) == "SHARED_MODULES" for t in node.targets)]
    assert "pandora_v1.translate.stream" in SHARED_MODULES
    assert loaded_by(", ".join(SHARED_MODULES), ("requests", "urllib3", "flask", "werkzeug", "gevent", "redis",
                                                 "socket", "ssl", "http", "prometheus_client", "apscheduler")) == []
