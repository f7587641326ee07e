#!/usr/bin/env python3
"""Fails when a C++ file of the repository is not as clang-format leaves it.

The house formatter is clang-format with the repository's .clang-format
(doc/style.md). Run from `meson test format`; the fix it prints is the
command to run.
"""
import pathlib
import shutil
import subprocess
import sys

DIRS = ("bench", "include", "python", "src", "tests")


def main() -> int:
    root = pathlib.Path(sys.argv[1])
    tool = shutil.which("clang-format-14") or shutil.which("clang-format")
    if tool is None:
        print("format: clang-format is not installed (./dev setup installs it)")
        return 1
    files = sorted(p for d in DIRS for p in (root / d).rglob("*")
                   if p.suffix in (".cc", ".h") and "subprojects" not in p.parts)
    # One run over every file (one process per file takes ~30 s on a loaded
    # 2-core machine); each difference is reported as "PATH:LINE:COL: error".
    run = subprocess.run([tool, "--dry-run", "--Werror", *map(str, files)], capture_output=True, text=True)
    differing = {line.split(":", 1)[0] for line in run.stderr.splitlines() if ": error: " in line}
    unformatted = sorted(pathlib.Path(p).relative_to(root) for p in differing)
    if run.returncode != 0 and not unformatted:
        print("format: clang-format failed:\n" + run.stderr)
        return 1
    if unformatted:
        print(f"format: {len(unformatted)} of {len(files)} files differ from clang-format's output:")
        for p in unformatted:
            print(f"  {p}")
        print("fix: clang-format -i " + " ".join(str(p) for p in unformatted))
        return 1
    print(f"format: {len(files)} files as clang-format leaves them")
    return 0


if __name__ == "__main__":
    sys.exit(main())
