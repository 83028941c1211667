"""A replay of the read models started from the admin: `board projections replay` as a child
process, its progress per read model and its last log lines.

One at a time per gateway process: a second start while one runs is refused.
"""

from __future__ import annotations

import asyncio
import re
import sys
from collections import deque
from dataclasses import dataclass, field

from board.environment import settings_environment
from shared.settings import Settings

LOG_LINES = 30
# What `projections/read_models/replay.py` logs as it goes and when a model is swapped in.
_PROGRESS = re.compile(r"(?P<name>\w+): replayed up to position (?P<done>\d+) of (?P<total>\d+)")
_REBUILT = re.compile(r"(?P<name>\w+) rebuilt from \d+ events up to position (?P<done>\d+)")


@dataclass
class ModelProgress:
    done: int = 0
    total: int = 0
    finished: bool = False

    @property
    def percent(self) -> int:
        if self.finished:
            return 100
        return min(99, self.done * 100 // self.total) if self.total else 0


@dataclass
class ReplayState:
    running: bool = False
    exit_code: int | None = None
    models: dict[str, ModelProgress] = field(default_factory=dict)
    lines: deque[str] = field(default_factory=lambda: deque(maxlen=LOG_LINES))


class ReplayAlreadyRunning(RuntimeError):
    pass


class ReplayRunner:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self.state = ReplayState()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self.state.running:
            raise ReplayAlreadyRunning
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            "from board.cli import main; raise SystemExit(main())",
            "projections",
            "replay",
            "--no-progress",
            env=settings_environment(self._settings),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        self.state = ReplayState(running=True)
        self._task = asyncio.create_task(self._follow(process))

    async def wait(self) -> ReplayState:
        if self._task is not None:
            await self._task
        return self.state

    async def stop(self) -> None:
        """Ends a replay still running when the gateway stops; the next one starts afresh."""
        if self._task is not None and not self._task.done():
            self._task.cancel()

    async def _follow(self, process: asyncio.subprocess.Process) -> None:
        assert process.stdout is not None
        try:
            async for raw in process.stdout:
                self._read(raw.decode("utf-8", "replace").rstrip())
            self.state.exit_code = await process.wait()
        except asyncio.CancelledError:
            process.kill()
            await process.wait()
            raise
        finally:
            self.state.running = False

    def _read(self, line: str) -> None:
        self.state.lines.append(line)
        if found := _PROGRESS.search(line):
            model = self.state.models.setdefault(found["name"], ModelProgress())
            model.done, model.total = int(found["done"]), int(found["total"])
        elif found := _REBUILT.search(line):
            model = self.state.models.setdefault(found["name"], ModelProgress())
            model.done = model.total = int(found["done"])
            model.finished = True
