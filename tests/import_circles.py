#!/usr/bin/env python3
"""Fails if the files of a crate import each other in a loop.

A file's arrows are its `use crate::…` and `use super::…` lines (and paths
written out in the code as `crate::a::b`), each resolved to the file that
defines the module it names. A child module naming its parent (`super::X`
from `region/blocks.rs` to `region/mod.rs`) is how Rust splits one type's
`impl` over files, not an arrow between rooms, so it is not counted; nor are
test files and `#[cfg(test)]` modules, which may use anything.

Usage: python3 tests/import_circles.py [crate-dir …]   (default: every crate)
"""

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CRATES = ["cluster", "auth", "world", "net", "server", "bench", "fuzz"]

PATH = re.compile(r"\b(crate|super)((?:::[A-Za-z_][A-Za-z0-9_]*)+)")
USE_GROUP = re.compile(r"\buse\s+(crate|super)((?:::[A-Za-z_][A-Za-z0-9_]*)*)::\{([^;]*)\}\s*;", re.S)
TEST_MOD = re.compile(r"#\[cfg\(test\)\]\s*(?:pub(?:\([a-z]+\))?\s+)?mod\s+\w+\s*\{")


def module_files(src: Path) -> dict:
    """Module path (tuple of names below the crate root) -> file."""
    modules = {}
    for file in src.rglob("*.rs"):
        rel = file.relative_to(src).with_suffix("")
        parts = list(rel.parts)
        if parts in (["lib"], ["main"]):
            parts = []
        elif parts[-1] == "mod":
            parts = parts[:-1]
        modules[tuple(parts)] = file
    return modules


def is_test_file(file: Path) -> bool:
    return file.stem.endswith("tests") or file.stem == "tests" or "tests" in file.parts


def without_tests(text: str) -> str:
    """The text with every `#[cfg(test)] mod … { … }` block cut out."""
    out, at = [], 0
    for m in TEST_MOD.finditer(text):
        if m.start() < at:
            continue
        out.append(text[at:m.start()])
        depth, i = 1, m.end()
        while i < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
        at = i
    out.append(text[at:])
    return "".join(out)


def without_comments(text: str) -> str:
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return re.sub(r"//[^\n]*", "", text)


def resolve(modules: dict, base: tuple, names: list):
    """The file that defines the longest module prefix of `base::names`."""
    path = list(base) + names
    for end in range(len(path), len(base), -1):
        file = modules.get(tuple(path[:end]))
        if file is not None:
            return file
    return None


def arrows(src: Path) -> dict:
    modules = module_files(src)
    graph = {}
    for here, file in modules.items():
        if is_test_file(file):
            continue
        text = without_comments(without_tests(file.read_text()))
        paths = []
        for m in USE_GROUP.finditer(text):
            prefix = [p for p in m.group(2).split("::") if p]
            for item in re.split(r",", m.group(3)):
                first = item.strip().split("::")[0].split(" ")[0].strip("{} \n")
                if first and first != "self":
                    paths.append((m.group(1), prefix + [first]))
                elif first == "self":
                    paths.append((m.group(1), prefix))
        for m in PATH.finditer(text):
            paths.append((m.group(1), [p for p in m.group(2).split("::") if p]))
        targets = set()
        for kind, names in paths:
            base = ()
            if kind == "super":
                base = here[:-1]
                while names and names[0] == "super":
                    base, names = base[:-1], names[1:]
            target = resolve(modules, base, names)
            if target is None or target == file or is_test_file(target):
                continue
            target_mod = next(k for k, v in modules.items() if v == target)
            # A child naming its ancestor module is one module split over files.
            if here[: len(target_mod)] == target_mod:
                continue
            targets.add(target)
        graph[file] = targets
    return graph


def circles(graph: dict) -> list:
    """Tarjan's strongly connected components of more than one file."""
    index, low, stack, on, found = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(10_000)
    for v in graph:
        if v not in index:
            visit(v)
    return found


def main() -> int:
    crates = sys.argv[1:] or CRATES
    bad = 0
    for crate in crates:
        src = ROOT / crate / "src"
        graph = arrows(src)
        for component in circles(graph):
            bad += 1
            names = [str(f.relative_to(ROOT)) for f in component]
            print(f"import circle in {crate}: " + " ↔ ".join(names))
            for f in component:
                ties = sorted(str(t.relative_to(ROOT)) for t in graph[f] if t in component)
                print(f"  {f.relative_to(ROOT)} -> {', '.join(ties)}")
        print(f"{crate}: {len(graph)} files, {sum(map(len, graph.values()))} arrows")
    if bad:
        print(f"{bad} import circle(s): make the arrows point one way (docs/ARCHITECTURE.md)")
        return 1
    print("no import circles")
    return 0


if __name__ == "__main__":
    sys.exit(main())
