"""Starting a faust worker process: what happens before the worker takes over."""

from __future__ import annotations

import asyncio
import gc
from typing import Any

import pytest

from projections.runtime import worker as main


class RecordingWorker:
    """Stands in for faust's Worker: records how much of the heap was frozen when it ran,
    and closes its loop as faust's does when it stops."""

    frozen_when_run: int | None = None

    def __init__(self, _app: Any, *, loop: asyncio.AbstractEventLoop, **_options: Any) -> None:
        self.loop = loop

    def execute_from_commandline(self) -> None:
        RecordingWorker.frozen_when_run = gc.get_freeze_count()
        self.loop.close()


def test_a_worker_runs_with_its_start_up_heap_left_out_of_garbage_collection(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A full collection of that heap stalls the worker ~90 ms: the lag's p99 showed it.
    monkeypatch.setattr(main.faust, "Worker", RecordingWorker)
    # The worker's loop would stay this thread's current loop, closed, for later tests.
    monkeypatch.setattr(main.asyncio, "set_event_loop", lambda _loop: None)
    gc.unfreeze()

    main.run_faust_app(object())  # type: ignore[arg-type]

    assert RecordingWorker.frozen_when_run is not None
    assert RecordingWorker.frozen_when_run > 10_000
