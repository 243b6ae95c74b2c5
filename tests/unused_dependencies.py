#!/usr/bin/env python3
"""Fails if a crate of the workspace declares a dependency its code never names.

Reads `cargo metadata` (so a renamed package such as md-5 is looked for by its library
name, md5), then every .rs file of the crate. A dependency taken only for a feature it
turns on elsewhere is listed under [package.metadata.cargo-machete] ignored, with a
comment saying why (the same key cargo-machete reads).
"""
import json
import pathlib
import re
import subprocess
import sys

meta = json.loads(subprocess.run(
    ["cargo", "metadata", "--format-version", "1", "--locked", "--offline"],
    check=True, capture_output=True, text=True).stdout)
lib_names = {}
for package in meta["packages"]:
    for target in package["targets"]:
        if any(kind in ("lib", "rlib", "proc-macro") for kind in target["kind"]):
            lib_names[package["name"]] = target["name"].replace("-", "_")

unused = []
members = set(meta["workspace_members"])
for package in meta["packages"]:
    if package["id"] not in members:
        continue
    folder = pathlib.Path(package["manifest_path"]).parent
    text = "\n".join(p.read_text() for p in folder.rglob("*.rs") if "target" not in p.parts)
    ignored = set(((package.get("metadata") or {}).get("cargo-machete") or {}).get("ignored", []))
    for dep in package["dependencies"]:
        if dep["name"] in ignored:
            continue
        ident = (dep.get("rename") or lib_names.get(dep["name"], dep["name"])).replace("-", "_")
        pattern = rf"\b{re.escape(ident)}\s*::|\buse\s+{re.escape(ident)}\b|\bextern\s+crate\s+{re.escape(ident)}\b"
        if not re.search(pattern, text):
            kind = dep["kind"] or "normal"
            unused.append(f"{package['name']}: {dep['name']} ({kind}) is never named in {folder.name}/")

if unused:
    print("unused dependencies:\n  " + "\n  ".join(unused))
    sys.exit(1)
print("every declared dependency is used")
