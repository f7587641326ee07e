#!/usr/bin/env python3
"""The module layering of doc/architecture.md §1, checked on every include.

A module includes only its own headers and those of the modules below it:
a `src/<module>/` file or a public header `include/nexum/<name>.h` belongs to
the module whose `src/<module>/<name>.cc` implements it (a header without a
source names its module in HEADER_ONLY below). Linking catches a wrong call
into a library; this catches a wrong include, also of a header-only type.

Usage: layering_check.py SOURCE_ROOT. Exit 1 with one line per violation.
"""
import os
import re
import sys

# Each module and the modules it may include (transitively closed below).
BELOW = {
    "core": set(),
    "store": {"core"},
    "bus": {"core", "store"},
    "projections": {"core", "store"},
    "sagas": {"core", "store", "bus"},  # issues its commands through an EventBus
    "banking": {"core", "store", "bus", "projections", "sagas"},
    "cluster": {"core", "store", "bus", "projections", "sagas", "banking"},
    "service": {"core", "store", "bus", "projections", "sagas", "banking", "cluster"},
    "http": {"core", "store", "bus", "projections", "sagas", "banking", "cluster", "service"},
    "cli": {"core", "store", "bus", "projections", "sagas", "banking", "service", "http", "cluster", "drivers"},
}

# Public headers with no source of their own name.
HEADER_ONLY = {
    "banking_events": "banking",
    "banking_records": "banking",
    "event_types": "core",
    "projection": "projections",
}

INCLUDE = re.compile(r'^\s*#\s*include\s+"([a-z_]+)/([A-Za-z0-9_]+)\.h"', re.M)


def public_header_modules(root):
    owner = dict(HEADER_ONLY)
    for module in BELOW:
        src = os.path.join(root, "src", module)
        if not os.path.isdir(src):
            continue
        for name in os.listdir(src):
            if name.endswith(".cc"):
                owner.setdefault(name[:-3], module)
    return owner


def main():
    root = sys.argv[1]
    owner = public_header_modules(root)
    problems = []
    files = []
    for module in BELOW:
        src = os.path.join(root, "src", module)
        if os.path.isdir(src):
            files += [(module, os.path.join(src, f)) for f in sorted(os.listdir(src))
                      if f.endswith((".h", ".cc"))]
    include_dir = os.path.join(root, "include", "nexum")
    for f in sorted(os.listdir(include_dir)):
        name = f[:-2]
        if name not in owner:
            problems.append(f"include/nexum/{f}: no src/<module>/{name}.cc and not in HEADER_ONLY")
            continue
        files.append((owner[name], os.path.join(include_dir, f)))
    for module, path in files:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
        for directory, name in INCLUDE.findall(text):
            target = owner.get(name) if directory == "nexum" else directory
            if target is None:
                problems.append(f"{os.path.relpath(path, root)}: includes nexum/{name}.h, which no module owns")
            elif target != module and target not in BELOW[module]:
                problems.append(f"{os.path.relpath(path, root)} ({module}) includes {directory}/{name}.h "
                                f"({target}), which is not below it")
    for p in problems:
        print(p)
    print(f"{len(files)} files checked, {len(problems)} layering violations")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
