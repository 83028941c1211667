"""Child processes with their output prefixed by name, restarted with back-off when they die."""

from __future__ import annotations

import codecs
import logging
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from rich.console import Console
from rich.text import Text

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ChildSpec:
    name: str
    argv: tuple[str, ...]
    style: str


@dataclass(frozen=True)
class RestartPolicy:
    """Restart a dead child after a doubling delay; give up after repeated quick deaths.

    A child that ran `stable_after` seconds before dying starts afresh from `first_delay`.
    """

    first_delay: float = 1.0
    max_delay: float = 30.0
    stable_after: float = 30.0
    give_up_after: int = 5

    def delay(self, quick_deaths: int) -> float | None:
        """Seconds to wait before the next start, or None to give up."""
        if quick_deaths > self.give_up_after:
            return None
        return min(self.first_delay * 2.0 ** (quick_deaths - 1), self.max_delay)


# The most a child's output is read in one go.
_CHUNK_BYTES = 64 * 1024


def _rendered(console: Console, label: Text) -> str:
    """The label as the console shows it (coloured on a terminal), for plain writes."""
    with console.capture() as captured:
        console.print(label, end="", soft_wrap=True, highlight=False)
    return captured.get()


class Child:
    """One supervised process and its restart state."""

    def __init__(
        self,
        spec: ChildSpec,
        *,
        env: Mapping[str, str],
        console: Console,
        label_width: int,
        policy: RestartPolicy,
    ) -> None:
        self.spec = spec
        self._env = dict(env)
        self._console = console
        self._prefix = _rendered(console, Text(f"{spec.name:<{label_width}} | ", style=spec.style))
        self._policy = policy
        self.process: subprocess.Popen[bytes] | None = None
        self._started_at = 0.0
        self._quick_deaths = 0
        self._restart_at: float | None = None
        self._output: threading.Thread | None = None

    def start(self) -> None:
        # A session of its own: a Ctrl-C in the terminal reaches the supervisor only, which
        # stops the children itself (SIGTERM, grace period, SIGKILL) rather than seeing them
        # die on their own and restarting them.
        self.process = subprocess.Popen(
            self.spec.argv,
            env=self._env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            bufsize=0,
            start_new_session=True,
        )
        self._started_at = time.monotonic()
        self._restart_at = None
        self._output = threading.Thread(
            target=self._copy_output,
            args=(self.process,),
            name=f"{self.spec.name}-output",
            daemon=True,
        )
        self._output.start()

    def _copy_output(self, process: subprocess.Popen[bytes]) -> None:
        """Copy the child's output, each line behind its label, a read at a time.

        `board up` must cost nothing while its children log: a chunk as the pipe hands it
        over is decoded, labelled and written in one go (rendering each line through rich,
        as this did before, cost more CPU than the notifier spent making the line).
        """
        assert process.stdout is not None
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        pending = ""
        out = self._console.file
        with process.stdout:
            while chunk := process.stdout.read(_CHUNK_BYTES):
                *lines, pending = (pending + decoder.decode(chunk)).split("\n")
                if lines:
                    out.write("".join(f"{self._prefix}{line}\n" for line in lines))
                    out.flush()
        if pending:
            out.write(f"{self._prefix}{pending}\n")
            out.flush()

    def check(self, now: float) -> bool:
        """Schedule or perform a restart if the process died; False once it is given up."""
        if self.process is None:
            return True
        if self._restart_at is not None:
            if now >= self._restart_at:
                logger.info("restarting %s", self.spec.name)
                self.start()
            return True
        code = self.process.poll()
        if code is None:
            return True
        ran = now - self._started_at
        self._quick_deaths = 1 if ran >= self._policy.stable_after else self._quick_deaths + 1
        delay = self._policy.delay(self._quick_deaths)
        if delay is None:
            logger.error(
                "%s exited with code %s %d times in a row; giving up",
                self.spec.name,
                code,
                self._quick_deaths,
            )
            return False
        logger.warning(
            "%s exited with code %s after %.1f s; restarting in %.0f s",
            self.spec.name,
            code,
            ran,
            delay,
        )
        self._restart_at = now + delay
        return True

    def terminate(self) -> None:
        self._restart_at = None
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)

    def wait_or_kill(self, deadline: float) -> None:
        if self.process is None:
            return
        try:
            self.process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            logger.warning("%s did not stop in time; killing it", self.spec.name)
            self.process.kill()
            self.process.wait()
        if self._output is not None:
            # The last lines of a stopping child are often the ones that explain why.
            self._output.join(timeout=10.0)
        logger.info("%s stopped (exit code %s)", self.spec.name, self.process.returncode)
        self.process = None


class Supervisor:
    """Starts the children, watches them from a background thread, and stops them."""

    def __init__(
        self,
        specs: Sequence[ChildSpec],
        *,
        env: Mapping[str, str],
        console: Console,
        policy: RestartPolicy | None = None,
        grace_seconds: float = 10.0,
    ) -> None:
        width = max(len(spec.name) for spec in specs)
        self.children = [
            Child(
                spec, env=env, console=console, label_width=width, policy=policy or RestartPolicy()
            )
            for spec in specs
        ]
        self._grace_seconds = grace_seconds
        self._stopping = threading.Event()
        self._gave_up = threading.Event()
        self._watcher = threading.Thread(target=self._watch, name="supervisor", daemon=True)

    @property
    def gave_up(self) -> bool:
        return self._gave_up.is_set()

    def wait_for_give_up(self, timeout: float) -> bool:
        return self._gave_up.wait(timeout)

    def start(self) -> None:
        for child in self.children:
            child.start()
        self._watcher.start()

    def _watch(self) -> None:
        while not self._stopping.wait(0.2):
            now = time.monotonic()
            if not all([child.check(now) for child in self.children]):
                self._gave_up.set()
                return

    def stop(self) -> None:
        """SIGTERM to every child, then SIGKILL to those still running after the grace period."""
        self._stopping.set()
        if self._watcher.is_alive():
            self._watcher.join()
        for child in self.children:
            child.terminate()
        deadline = time.monotonic() + self._grace_seconds
        for child in self.children:
            child.wait_or_kill(deadline)
