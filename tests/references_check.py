#!/usr/bin/env python3
"""Fails when the repository points at a file it does not hold.

doc/architecture.md promises that every reference in code and docs resolves
inside the repository: relative links in Markdown, and paths such as
`src/store/recovery.cc` or `doc/record_format.md` named in docs, code
comments and scripts.
"""
import pathlib
import re
import sys

SOURCE_DIRS = ("bench", "doc", "include", "python", "src", "tests")
SOURCE_SUFFIXES = {".cc", ".h", ".md", ".py", ".sh", ".capnp", ".js", ".ts", ".toml", ".txt"}
# A path into the repository's own top-level folders, ending in a known file type.
PATH = re.compile(r"(?<![\w./-])((?:bench|doc|include|python|src|tests)/[A-Za-z0-9_./-]+\."
                  r"(?:h|cc|md|py|sh|capnp|js|ts|json|toml))(?![\w])")
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def main() -> int:
    root = pathlib.Path(sys.argv[1]).resolve()
    files = [root / "README.md"] + sorted(
        p for d in SOURCE_DIRS for p in (root / d).rglob("*")
        if p.is_file() and p.suffix in SOURCE_SUFFIXES
        and not any(part.startswith("build") or part in ("node_modules", "__pycache__", "fixtures") for part in p.relative_to(root).parts))
    dangling = []
    for f in files:
        text = f.read_text(errors="replace")
        for m in PATH.finditer(text):
            target = m.group(1)
            if not (root / target).exists() and not (f.parent / target).exists():
                dangling.append(f"{f.relative_to(root)}: {target}")
        if f.suffix == ".md":
            for m in LINK.finditer(text):
                target = m.group(1)
                if "://" in target or target.startswith("mailto:") or " " in target:
                    continue
                if not (f.parent / target).exists():
                    dangling.append(f"{f.relative_to(root)}: link ({target})")
    if dangling:
        print(f"references: {len(dangling)} point at files the repository does not hold:")
        for d in dangling:
            print(f"  {d}")
        return 1
    print(f"references: every path named in {len(files)} files resolves")
    return 0


if __name__ == "__main__":
    sys.exit(main())
