"""House rules for the package's imports, checked on the source with `ast` (nothing is imported
but `cooc` itself, to find the source through `cooc.__file__`).

(a) No module uses a private name (a leading underscore, not a dunder) of another cooc module:
    not `from cooc.x import _y`, not `cooc.x._y` after `import cooc.x`, not `m._y` where `m`
    is any name bound to a cooc module (`import cooc.x as m`, `from cooc import x as m`). A
    private module (`cooc/x/_y.py`) is private to its package: only modules under `cooc.x`
    may import it. Imports are checked wherever they are (module level, functions, methods).

(b) No import cycle among cooc modules at module level. The graph has an edge A -> B for each
    import in A that runs when A is imported: module level, including class bodies and
    try/if blocks, but not function bodies and not `if TYPE_CHECKING:` blocks. An import
    names its deepest cooc module: `from cooc.x import y` is an edge to `cooc.x.y` when that
    is a module, else to `cooc.x`; the parent packages that Python initialises on the way are
    not edges (every module would otherwise sit in a cycle with a package `__init__` that
    re-exports it). Function-level imports are left out on purpose: a lazy import is how a
    cycle is deliberately broken (and how `import cooc` stays cheap), and it cannot fail at
    import time. They are reported only as context: when a module-level cycle is found, the
    function-level imports between its members are listed with it. Dynamic imports
    (`importlib.import_module(name)`, as `cooc/__init__.py`'s lazy names) are not seen.

(c) The kernels (`cooc.kernels` and everything under it) import nothing from cooc outside
    `cooc.kernels`, anywhere in the file: they are the numba layer every product builds on.

`test_checker_catches_*` run the same checker on a small synthetic package written to
tmp_path, so each rule is shown to fail when broken.
"""

from __future__ import annotations

import ast
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import cooc


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


@dataclass
class Import:
    """One import statement's target in module `src`: the cooc module it loads (`target`), the
    names it takes from it, where it is, and whether it runs at import time."""

    src: str
    target: str
    names: list[tuple[str, str]]  # (name, bound as), for `from target import name as bound`
    line: int
    module_level: bool
    type_checking: bool


@dataclass
class Findings:
    private: list[str] = field(default_factory=list)
    cycles: list[str] = field(default_factory=list)
    kernels: list[str] = field(default_factory=list)


class _Collector(ast.NodeVisitor):
    """Imports (with their context) and attribute chains of one module."""

    def __init__(self, module: str, is_package: bool, top: str):
        self.module, self.top = module, top
        self.package = module if is_package else module.rpartition(".")[0]
        self.imports: list[tuple[ast.AST, bool, bool]] = []  # (node, module level, TYPE_CHECKING)
        self.attributes: list[ast.Attribute] = []
        self._depth = 0  # function nesting
        self._tc = 0  # `if TYPE_CHECKING:` nesting

    def visit_FunctionDef(self, node):
        self._depth += 1
        self.generic_visit(node)
        self._depth -= 1

    visit_AsyncFunctionDef = visit_FunctionDef
    visit_Lambda = visit_FunctionDef

    def visit_If(self, node):
        t = node.test
        tc = (isinstance(t, ast.Name) and t.id == "TYPE_CHECKING") or (
            isinstance(t, ast.Attribute) and t.attr == "TYPE_CHECKING")
        self.visit(node.test)
        self._tc += tc
        for n in node.body:
            self.visit(n)
        self._tc -= tc
        for n in node.orelse:
            self.visit(n)

    def visit_Import(self, node):
        self.imports.append((node, self._depth == 0, self._tc > 0))

    def visit_ImportFrom(self, node):
        self.imports.append((node, self._depth == 0, self._tc > 0))

    def visit_Attribute(self, node):
        self.attributes.append(node)
        self.generic_visit(node)

    def absolute(self, node: ast.ImportFrom) -> str:
        if not node.level:
            return node.module or ""
        base = self.package.split(".")
        base = base[: len(base) - (node.level - 1)]
        return ".".join(base + ([node.module] if node.module else []))


def _modules(root: Path, top: str) -> dict[str, Path]:
    """Dotted name -> file, for every .py under the package folder `root` named `top`."""
    out = {}
    for p in sorted(root.rglob("*.py")):
        parts = list(p.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join([top, *parts])] = p
    return out


def _in(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def _private_module_violation(importer: str, module: str) -> str | None:
    """The private component of `module` that `importer` may not use, if any."""
    parts = module.split(".")
    for i, part in enumerate(parts[1:], 1):
        if _private(part) and not _in(importer, ".".join(parts[:i])):
            return ".".join(parts[: i + 1])
    return None


def check_package(root: Path, top: str = "cooc", kernels: str = "kernels") -> Findings:
    """Apply the house rules (see the module docstring) to the package folder `root`."""
    modules = _modules(root, top)
    kernel_pkg = f"{top}.{kernels}"
    found = Findings()
    edges: dict[str, dict[str, list[Import]]] = {m: {} for m in modules}
    lazy: list[Import] = []
    for mod, path in modules.items():
        rel = path.relative_to(root.parent)
        col = _Collector(mod, path.name == "__init__.py", top)
        col.visit(ast.parse(path.read_text(encoding="utf-8"), str(path)))
        aliases: dict[str, str] = {}  # local name -> cooc module it is bound to
        imports: list[Import] = []
        for node, module_level, tc in col.imports:
            if isinstance(node, ast.Import):
                for a in node.names:
                    if not _in(a.name, top):
                        continue
                    imports.append(Import(mod, a.name, [], node.lineno, module_level, tc))
                    if a.asname:
                        aliases[a.asname] = a.name
                    else:
                        aliases[a.name.split(".")[0]] = a.name.split(".")[0]
                continue
            base = col.absolute(node)
            if not _in(base, top):
                continue
            names = [(a.name, a.asname or a.name) for a in node.names]
            subs = [n for n, _ in names if f"{base}.{n}" in modules]
            others = [(n, b) for n, b in names if f"{base}.{n}" not in modules]
            for n in subs:
                imports.append(Import(mod, f"{base}.{n}", [], node.lineno, module_level, tc))
            if others:
                imports.append(Import(mod, base, others, node.lineno, module_level, tc))
            for n, b in names:
                if f"{base}.{n}" in modules:
                    aliases[b] = f"{base}.{n}"
        for imp in imports:
            where = f"{rel}:{imp.line}"
            bad_mod = _private_module_violation(mod, imp.target)
            if bad_mod:
                found.private.append(f"{where}: {mod} imports private module {bad_mod}")
            for n, _ in imp.names:
                if _private(n) and n != "*":
                    found.private.append(f"{where}: {mod} imports {n} from {imp.target}")
            if _in(mod, kernel_pkg) and not _in(imp.target, kernel_pkg):
                found.kernels.append(f"{where}: kernel module {mod} imports {imp.target}")
            if imp.target == mod or imp.target not in modules:
                continue
            if imp.module_level and not imp.type_checking:
                edges[mod].setdefault(imp.target, []).append(imp)
            else:
                lazy.append(imp)
        for node in col.attributes:
            chain = _chain(node)
            if not chain or chain[0] not in aliases:
                continue
            target, rest = aliases[chain[0]], chain[1:]
            while rest and f"{target}.{rest[0]}" in modules:
                target, rest = f"{target}.{rest[0]}", rest[1:]
                bad_mod = _private_module_violation(mod, target)
                if bad_mod:
                    found.private.append(f"{rel}:{node.lineno}: {mod} uses private module "
                                         f"{bad_mod}")
                    break
            else:
                if rest and _private(rest[0]) and target != mod:
                    found.private.append(f"{rel}:{node.lineno}: {mod} uses {target}.{rest[0]}")
    found.private = sorted(set(found.private))
    for scc in _cycles(edges):
        members = set(scc)
        lines = [f"import cycle among {', '.join(sorted(scc))}:"]
        for a in sorted(scc):
            for b, imps in sorted(edges[a].items()):
                if b in members:
                    lines += [f"  {a} -> {b} ({modules[a].relative_to(root.parent)}:{i.line})"
                              for i in imps]
        lines += [f"  (function-level) {i.src} -> {i.target} "
                  f"({modules[i.src].relative_to(root.parent)}:{i.line})"
                  for i in lazy if i.src in members and i.target in members]
        found.cycles.append("\n".join(lines))
    return found


def _chain(node: ast.Attribute) -> list[str] | None:
    """`a.b.c` -> ["a", "b", "c"] (None when the base is not a plain name). Only the outermost
    Attribute of a chain is useful, but inner ones give the same answer for a prefix."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    return [node.id, *reversed(parts)]


def _cycles(edges: dict[str, dict[str, list]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out = []
    counter = 0
    for start in sorted(edges):
        if start in index:
            continue
        work = [(start, iter(sorted(edges[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on.add(start)
        while work:
            v, it = work[-1]
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(edges[w]))))
                    break
                if w in on:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    comp = []
                    while True:
                        w = stack.pop()
                        on.discard(w)
                        comp.append(w)
                        if w == v:
                            break
                    if len(comp) > 1:
                        out.append(sorted(comp))
    return out


# --- the real package -----------------------------------------------------------------------

ROOT = Path(cooc.__file__).resolve().parent


def _report(items: list[str]) -> str:
    return "\n" + "\n".join(items)


def test_the_checker_sees_the_package():
    mods = _modules(ROOT, "cooc")
    assert "cooc.kernels" in mods and "cooc.cli.main" in mods and len(mods) > 50


def test_no_private_names_across_modules():
    found = check_package(ROOT)
    assert not found.private, _report(found.private)


def test_no_module_level_import_cycles():
    found = check_package(ROOT)
    assert not found.cycles, _report(found.cycles)


def test_kernels_import_only_kernels():
    found = check_package(ROOT)
    assert not found.kernels, _report(found.kernels)


# --- the checker fails when a rule is broken -----------------------------------------------------

SYNTHETIC = {
    "__init__.py": "__version__ = '1'\n",
    # (a) every form of reaching for a private name; dunders are fine
    "a.py": """
        import pkg.b
        import pkg.c as cmod
        from pkg import b as bee
        from pkg.b import _hidden, public, __version__
        from . import e

        x = pkg.b._secret + bee._other + cmod.public_ok + pkg.b.__doc__
        y = e._relative
        """,
    "b.py": """
        import pkg.c
        _hidden = _secret = _other = public = 1
        """,
    # (b) a -> ... no: b -> c -> d -> b is a module-level cycle
    "c.py": """
        from pkg.d import thing
        public_ok = 1
        """,
    "d.py": """
        from typing import TYPE_CHECKING
        import pkg.b
        if TYPE_CHECKING:
            import pkg.e  # e -> d at module level: no runtime cycle
        thing = 1

        def later():
            import pkg.c  # function-level, inside the cycle: listed as context
        """,
    # a lazy import that breaks a cycle is fine: e -> d at module level, d -> e lazily
    "e.py": """
        import pkg.d
        _relative = 1

        def f():
            import pkg.f
        """,
    "f.py": """
        import pkg.e
        """,
    "_impl.py": "x = 1\n",
    "sub/__init__.py": "",
    "sub/_inner.py": "y = 1\n",
    "sub/ok.py": """
        from pkg.sub._inner import y  # its own package's private module: fine
        """,
    "g.py": """
        from pkg.sub._inner import y  # another package's private module
        from pkg._impl import x  # top-level private module, used from inside pkg: fine
        """,
    # (c) a kernel reaching outside the kernels
    "kernels/__init__.py": "",
    "kernels/k1.py": """
        import numpy
        from pkg.kernels import k2
        from . import k2 as again
        """,
    "kernels/k2.py": """
        def f():
            from pkg.c import public_ok
        from ..b import public
        """,
}


def _write_synthetic(tmp_path: Path) -> Path:
    root = tmp_path / "pkg"
    for name, text in SYNTHETIC.items():
        p = root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return root


def test_checker_catches_private_names(tmp_path):
    found = check_package(_write_synthetic(tmp_path), "pkg")
    text = "\n".join(found.private)
    assert "pkg.a imports _hidden from pkg.b" in text  # from pkg.x import _y
    assert "pkg.a uses pkg.b._secret" in text  # import pkg.x; pkg.x._y
    assert "pkg.a uses pkg.b._other" in text  # from pkg import x as z; z._w
    assert "pkg.a uses pkg.e._relative" in text  # from . import x; x._y
    assert "pkg.g imports private module pkg.sub._inner" in text
    assert "__version__" not in text and "public" not in text and "__doc__" not in text
    assert "pkg.sub.ok" not in text and "pkg._impl" not in text
    assert len(found.private) == 5, text


def test_checker_catches_cycles(tmp_path):
    found = check_package(_write_synthetic(tmp_path), "pkg")
    assert len(found.cycles) == 1, found.cycles
    cycle = found.cycles[0]
    assert cycle.startswith("import cycle among pkg.b, pkg.c, pkg.d:")
    assert "pkg.b -> pkg.c" in cycle and "pkg.c -> pkg.d" in cycle and "pkg.d -> pkg.b" in cycle
    assert "(function-level) pkg.d -> pkg.c" in cycle
    assert "pkg.e" not in cycle and "pkg.f" not in cycle  # lazy and TYPE_CHECKING edges


def test_checker_catches_kernels_reaching_out(tmp_path):
    found = check_package(_write_synthetic(tmp_path), "pkg")
    text = "\n".join(found.kernels)
    assert "kernel module pkg.kernels.k2 imports pkg.c" in text  # function level counts
    assert "kernel module pkg.kernels.k2 imports pkg.b" in text  # relative, out of the kernels
    assert len(found.kernels) == 2, text
