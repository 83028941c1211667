"""`board up`: the whole backend on one machine, as supervised child processes."""

from __future__ import annotations

import logging
import os
import signal
import sys
import time
from collections.abc import Collection
from contextlib import ExitStack
from types import FrameType, TracebackType

import httpx
from rich.console import Console
from rich.markup import escape

from board.embedded import free_port
from board.environment import replace_settings, settings_environment
from board.local_servers import local_servers
from board.setup import set_up
from board.supervisor import Child, ChildSpec, RestartPolicy, Supervisor
from shared.settings import Settings

logger = logging.getLogger(__name__)

_BOARD = (sys.executable, "-m", "board.cli")
_ANY_ADDRESS = {"", "0.0.0.0", "::"}
_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class StackFailed(RuntimeError):
    """A child kept dying, or the gateway never answered."""


def child_specs(workers: int) -> list[ChildSpec]:
    projectors = [
        ChildSpec(
            f"projector-{n}" if workers > 1 else "projector",
            (*_BOARD, "projections", "run"),
            "magenta",
        )
        for n in range(1, workers + 1)
    ]
    return [
        ChildSpec("relay", (*_BOARD, "relay", "run"), "cyan"),
        *projectors,
        ChildSpec("notifier", (*_BOARD, "notifier", "run"), "yellow"),
        ChildSpec("gateway", (*_BOARD, "serve"), "green"),
    ]


class Stack:
    """The relay, the projection workers, the notifier and the gateway, each its own process.

    Expects the stores to be set up (`board.setup.set_up`). Children get `settings`
    through their environment; a port of 0 is replaced by a free one before they start.
    `start()` returns once the gateway answers `/healthz`. `only` names the children to run
    (a benchmark of reads serves a board built by replay with the gateway alone).
    """

    def __init__(
        self,
        settings: Settings,
        *,
        workers: int = 1,
        only: Collection[str] | None = None,
        console: Console | None = None,
        policy: RestartPolicy | None = None,
        ready_timeout: float = 60.0,
    ) -> None:
        if settings.port == 0:
            settings = replace_settings(settings, port=free_port())
        self.settings = settings
        self.console = console or Console(stderr=True)
        self._ready_timeout = ready_timeout
        self._supervisor = Supervisor(
            [spec for spec in child_specs(workers) if only is None or spec.name in only],
            env={**_inherited_environment(), **settings_environment(settings)},
            console=self.console,
            policy=policy,
        )

    @property
    def base_url(self) -> str:
        host = "127.0.0.1" if self.settings.host in _ANY_ADDRESS else self.settings.host
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.settings.port}"

    @property
    def children(self) -> list[Child]:
        return self._supervisor.children

    @property
    def failed(self) -> bool:
        return self._supervisor.gave_up

    def wait_for_failure(self, timeout: float) -> bool:
        """Block up to `timeout` seconds; True once a child has been given up."""
        return self._supervisor.wait_for_give_up(timeout)

    def start(self) -> Stack:
        self._supervisor.start()
        try:
            self._wait_until_healthy()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        self._supervisor.stop()

    def __enter__(self) -> Stack:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _wait_until_healthy(self) -> None:
        url = f"{self.base_url}/healthz"
        deadline = time.monotonic() + self._ready_timeout
        with httpx.Client(timeout=1.0, trust_env=False) as client:
            while not self.wait_for_failure(0.2):
                try:
                    if client.get(url).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise StackFailed(
                        f"the gateway did not answer {url} in {self._ready_timeout} s"
                    )
        raise StackFailed("a process kept dying while the stack started")


def _inherited_environment() -> dict[str, str]:
    return {**os.environ, "PYTHONUNBUFFERED": "1"}


def run_up(settings: Settings, *, workers: int) -> int:
    """Run everything until Ctrl-C or SIGTERM (0), or until a child is given up (1)."""
    # SIGINT too: a shell starting `board up` in the background leaves SIGINT ignored.
    # SIGHUP: the terminal it ran in was closed. Each stops everything, the embedded
    # servers included, also while they start.
    for stop_signal in _STOP_SIGNALS:
        signal.signal(stop_signal, _interrupt)
    with ExitStack() as running:
        try:
            resolved = running.enter_context(local_servers(settings))
            set_up(resolved)
            stack = running.enter_context(Stack(resolved, workers=workers))
            _announce(stack)
            while not stack.wait_for_failure(0.5):
                pass
            raise StackFailed("a process could not be kept running")
        except StackFailed as failure:
            logger.error("stopping everything: %s", failure)
            return 1
        except KeyboardInterrupt:
            logger.info("stopping")
            return 0
        finally:
            # A second Ctrl-C must not cut the graceful stop short; it ends in SIGKILL anyway.
            for stop_signal in _STOP_SIGNALS:
                signal.signal(stop_signal, signal.SIG_IGN)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _announce(stack: Stack) -> None:
    base = escape(stack.base_url)
    stack.console.print(
        f"\n[bold green]Event Board is up[/]\n"
        f"  API      {base}/api/\n"
        f"  Swagger  {base}/swagger/\n"
        f"  ReDoc    {base}/redoc/\n"
        f"  Admin    {base}/admin/ (staff: board createsuperuser)\n"
        f"  Press Ctrl-C to stop.\n",
        highlight=False,
    )
