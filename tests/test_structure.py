"""The shape of ``har``: layers that import only downwards, no cycles, no borrowed private names, small functions."""

import ast
from pathlib import Path

import pytest

import har

PACKAGE = Path(har.__file__).parent
#: The pipeline the notebooks teach, bottom up, then the tools around it; a module imports only from its own layer
#: or those before it (a layer's own modules in the order given).
LAYERS = {
    "base": ["errors", "files", "backend"],
    "data": ["video", "workers", "download", "youtube", "weights", "movenet", "dataset", "demo", "workspace"],
    "split": ["splits"],
    "models": ["models", "bundle"],
    "training": ["train", "features", "pose"],
    "evaluation": ["evaluate"],
    "display": ["viz"],
    "prediction": ["window", "predict"],
    "tools": ["tools.live", "tools.app", "tools.cli"],
}
ORDER = [name for layer in LAYERS.values() for name in layer]
LIMIT_LINES, LIMIT_PARAMETERS = 50, 8


def modules() -> dict[str, Path]:
    """Every module of har by its dotted name under har (``tools.cli``), but the package's own files."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        name = ".".join(path.relative_to(PACKAGE).with_suffix("").parts)
        if name.split(".")[-1] not in ("__init__", "__main__"):
            found[name] = path
    return found


def imports(path: Path) -> list[tuple[str, list[str], int]]:
    """(har module, names imported from it, line) of every import of a har module in a file, in functions too."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("har."):
            found.append((node.module.removeprefix("har."), [a.name for a in node.names], node.lineno))
        elif isinstance(node, ast.ImportFrom) and node.module == "har":
            for alias in node.names:  # `from har import models` imports a module; `from har import X` the package
                if (PACKAGE / f"{alias.name}.py").is_file():
                    found.append((alias.name, [], node.lineno))
        elif isinstance(node, ast.Import):
            found += [(a.name.removeprefix("har."), [], node.lineno) for a in node.names if a.name.startswith("har.")]
    return found


def test_every_module_has_its_place_in_a_layer():
    assert sorted(modules()) == sorted(ORDER)


def test_imports_go_down_the_layers_only():
    wrong = []
    for name, path in modules().items():
        for target, _, line in imports(path):
            if target != name and ORDER.index(target) > ORDER.index(name):
                wrong.append(f"{path.name}:{line} {name} imports {target}, a later module")
    assert not wrong, "\n".join(wrong)


def test_no_module_imports_another_modules_private_names():
    borrowed = [f"{path.name}:{line} takes {target}.{n}" for name, path in modules().items()
                for target, names, line in imports(path) for n in names if n.startswith("_")]  # fmt: skip
    assert not borrowed, "\n".join(borrowed)


def test_no_import_cycles():
    graph = {name: {target for target, _, _ in imports(path) if target != name} for name, path in modules().items()}

    def reaches(start: str, goal: str, seen: set) -> bool:
        return any(n == goal or (n not in seen and not seen.add(n) and reaches(n, goal, seen)) for n in graph[start])

    cycles = [name for name in graph if reaches(name, name, set())]
    assert not cycles, f"modules on an import cycle: {cycles}"


def test_the_layer_test_would_see_an_upward_import(tmp_path):
    planted = tmp_path / "planted.py"
    planted.write_text("def f():\n    from har.predict import _private\n")
    assert imports(planted) == [("predict", ["_private"], 2)]


def functions(path: Path):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            args = node.args
            parameters = [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]
            count = sum(p is not None and p.arg not in ("self", "cls") for p in parameters)
            yield node, node.end_lineno - node.lineno + 1, count


@pytest.mark.parametrize("name", ORDER)
def test_functions_are_short_or_say_why(name):
    """Over 50 lines or 8 parameters, a function's docstring says why ("Long because", "Many parameters because")."""
    too_big = []
    for node, lines, parameters in functions(modules()[name]):
        doc = ast.get_docstring(node) or ""
        if lines > LIMIT_LINES and "Long because" not in doc:
            too_big.append(f"{node.name}: {lines} lines")
        if parameters > LIMIT_PARAMETERS and "Many parameters because" not in doc:
            too_big.append(f"{node.name}: {parameters} parameters")
    assert not too_big, f"{name}: {too_big}"


def test_the_package_docstring_names_every_module():
    named = {line.split()[0] for line in har.__doc__.splitlines() if line.startswith("    ")}
    missing = [name for name in ORDER if name.split(".")[-1] not in named]
    assert not missing, f"har's docstring does not name {missing}"
