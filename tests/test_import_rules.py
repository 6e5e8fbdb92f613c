"""The import rules of DESIGN.md: layers import downward only, SDKs stay in their place."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "vp_tui"

# layer -> project layers it may import (besides itself)
ALLOWED: dict[str, set[str]] = {
    "core": set(),
    "locations": set(),
    "config": {"locations", "core"},
    "logs": {"locations", "core"},
    "platforms": {"core", "config", "locations"},
    "remote": {"core", "config", "locations"},
    "services": {"platforms", "remote", "core", "config", "locations"},
    "sim": {"core", "locations"},
    "bootstrap": {"services", "platforms", "remote", "core", "config", "locations", "logs", "sim"},
    "cli": {"bootstrap", "services", "platforms", "remote", "core", "config", "locations", "logs"},
    "tui": {"bootstrap", "services", "platforms", "remote", "core", "config", "locations", "logs"},
    "__init__": set(),
    "__main__": {"tui"},
}
THIRD_PARTY_HOMES = {"textual": {"tui"}, "vastai": {"platforms"}, "runpod": {"platforms"}}


def _layer(path: Path) -> str:
    rel = path.relative_to(PACKAGE)
    return rel.parts[0].removesuffix(".py")


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


MODULES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_layer_imports(path: Path) -> None:
    layer = _layer(path)
    for name in _imports(path):
        top, _, rest = name.partition(".")
        if top == "vp_tui":
            target = rest.split(".")[0] if rest else "__init__"
            if target in {layer, "__init__"} and target != "tui":
                continue
            if target == layer:
                continue
            assert target in ALLOWED[layer], f"{path.name}: {layer} must not import vp_tui.{target}"
        elif top in THIRD_PARTY_HOMES:
            assert layer in THIRD_PARTY_HOMES[top], (
                f"{path.name}: only {THIRD_PARTY_HOMES[top]} import {top}"
            )


def test_engine_loads_no_textual_and_core_no_sdk() -> None:
    code = (
        "import sys\n"
        "import vp_tui.core.models, vp_tui.core.gpus, vp_tui.core.money\n"
        "assert not {'vastai', 'runpod', 'textual'} & set(sys.modules), 'core'\n"
        "import vp_tui.config, vp_tui.platforms, vp_tui.services, vp_tui.bootstrap\n"
        "import pkgutil, importlib\n"
        "for pkg in ('vp_tui.platforms', 'vp_tui.services', 'vp_tui.remote'):\n"
        "    mod = importlib.import_module(pkg)\n"
        "    for info in pkgutil.iter_modules(mod.__path__):\n"
        "        importlib.import_module(pkg + '.' + info.name)\n"
        "assert 'textual' not in sys.modules, 'textual loaded'\n"
        "assert 'runpod' not in sys.modules, 'runpod imported eagerly'\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
