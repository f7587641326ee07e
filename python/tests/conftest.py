import os
import pathlib

import pytest

import nexum

REPO = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture
def store(tmp_path):
    with nexum.EventStore.open(tmp_path / "store", durability="buffered") as s:
        yield s


@pytest.fixture
def sync_store(tmp_path):
    with nexum.EventStore.open(tmp_path / "store", durability="sync") as s:
        yield s


def nexum_cli() -> pathlib.Path:
    """The C++ command-line tool of the same build (NEXUM_CLI overrides)."""
    path = pathlib.Path(os.environ.get("NEXUM_CLI", REPO / os.environ.get("NEXUM_BUILD_DIR", "build") / "src/cli/nexum"))
    if not path.exists():
        pytest.fail(f"{path} is missing: build it with ./dev build (or set NEXUM_CLI)")
    return path
