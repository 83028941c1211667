"""The supervisor of `board up`, driving small real child processes."""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Callable, Iterator

import pytest
from rich.console import Console

from board.supervisor import ChildSpec, RestartPolicy, Supervisor
from tests.waiting import eventually

FAST = RestartPolicy(first_delay=0.05, max_delay=0.05, stable_after=60.0, give_up_after=50)


def python(code: str) -> tuple[str, ...]:
    return (sys.executable, "-c", code)


class Run:
    def __init__(self, *specs: ChildSpec, policy: RestartPolicy = FAST, grace: float = 5.0):
        self.output = io.StringIO()
        self.supervisor = Supervisor(
            specs,
            env=dict(os.environ),
            console=Console(file=self.output, width=200),
            policy=policy,
            grace_seconds=grace,
        )

    def text(self) -> str:
        return self.output.getvalue()


@pytest.fixture
def run() -> Iterator[Callable[..., Run]]:
    started: list[Run] = []

    def start(*specs: ChildSpec, policy: RestartPolicy = FAST, grace: float = 5.0) -> Run:
        running = Run(*specs, policy=policy, grace=grace)
        running.supervisor.start()
        started.append(running)
        return running

    yield start
    for running in started:
        running.supervisor.stop()


def test_the_delay_doubles_up_to_its_cap_and_then_gives_up() -> None:
    policy = RestartPolicy(first_delay=1.0, max_delay=5.0, give_up_after=4)

    assert [policy.delay(n) for n in range(1, 6)] == [1.0, 2.0, 4.0, 5.0, None]


def test_each_line_of_a_child_is_prefixed_with_its_name(run: Callable[..., Run]) -> None:
    running = run(
        ChildSpec(
            "relay", python("print('one'); print('two'); import time; time.sleep(30)"), "cyan"
        ),
        ChildSpec("gateway", python("import time; time.sleep(30)"), "green"),
    )

    eventually(lambda: "two" in running.text(), "the second child's output", timeout=10)

    assert "relay   | one\n" in running.text()
    assert "relay   | two\n" in running.text()


def test_a_child_that_dies_is_started_again(run: Callable[..., Run]) -> None:
    running = run(ChildSpec("relay", python("print('started'); raise SystemExit(3)"), "cyan"))

    eventually(lambda: running.text().count("started") >= 3, "three starts", timeout=10)

    assert not running.supervisor.gave_up


def test_a_child_that_keeps_dying_is_given_up(run: Callable[..., Run]) -> None:
    policy = RestartPolicy(first_delay=0.01, max_delay=0.01, stable_after=60.0, give_up_after=2)
    running = run(ChildSpec("relay", python("raise SystemExit(1)"), "cyan"), policy=policy)

    assert running.supervisor.wait_for_give_up(10.0)
    assert running.text() == ""


def test_stopping_lets_children_finish_their_shutdown(run: Callable[..., Run]) -> None:
    graceful = (
        "import signal, sys, time\n"
        "signal.signal(signal.SIGTERM, lambda *_: (print('bye', flush=True), sys.exit(0)))\n"
        "print('ready', flush=True)\n"
        "time.sleep(30)\n"
    )
    running = run(ChildSpec("projector", python(graceful), "magenta"))
    eventually(lambda: "ready" in running.text(), "the child to be ready", timeout=10)

    running.supervisor.stop()

    assert "projector | bye\n" in running.text()
    assert all(child.process is None for child in running.supervisor.children)


def test_stopping_kills_a_child_that_ignores_sigterm(run: Callable[..., Run]) -> None:
    stubborn = (
        "import signal, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "print('ready', flush=True)\n"
        "time.sleep(60)\n"
    )
    running = run(ChildSpec("relay", python(stubborn), "cyan"), grace=0.3)
    eventually(lambda: "ready" in running.text(), "the child to be ready", timeout=10)
    process = running.supervisor.children[0].process
    assert process is not None

    running.supervisor.stop()

    assert process.returncode == -9
