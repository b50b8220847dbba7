"""Fixtures: a stub stsvend for the unit tests; the running stsvend and MiniStack for the others.

The tests against the real service need, in the environment (tests/api/clients/python.rs sets
them when scripts/test.sh runs it):
  STSVEND_URL               a running stsvend, its sessions short enough to expire during a test
  STSVEND_TEST_TOKEN_FILE   `Bearer <jwt>` of a user of that stsvend
  STSVEND_TEST_MODE         `bucket` or `prefix`, the stsvend's storage mode
They fail, naming what is missing, when it is not set: never skipped.
"""

from __future__ import annotations

import os
import pathlib
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).parent))

from stub import Stub  # noqa: E402


@pytest.fixture
def stub():
    started = []

    def start(replies):
        s = Stub(replies)
        started.append(s)
        return s

    yield start
    for s in started:
        s.close()


class Live:
    def __init__(self) -> None:
        missing = [k for k in ("STSVEND_URL", "STSVEND_TEST_TOKEN_FILE", "STSVEND_TEST_MODE") if not os.environ.get(k)]
        if missing:
            pytest.fail(
                f"{', '.join(missing)} not set: these tests need a running stsvend on MiniStack "
                "(bash scripts/test.sh python runs them)"
            )
        self.url = os.environ["STSVEND_URL"]
        self.token_file = pathlib.Path(os.environ["STSVEND_TEST_TOKEN_FILE"])
        self.mode = os.environ["STSVEND_TEST_MODE"]


@pytest.fixture(scope="session")
def live() -> Live:
    return Live()
