"""Group commit: one thread runs a process's commands and saves them in small groups.

Every command of the board goes through one `Committer`. Its thread takes the commands
that are waiting, in arrival order, runs them one after another on cached aggregates and
saves what they recorded with one `save`:

- commands on one aggregate never race each other inside the process, so a popular event
  loses no time to optimistic-concurrency conflicts, except with other processes;
- a group pays for one transaction (and one turn of the event table's lock) however many
  commands it holds, and stays small (about `MAX_GROUP_EVENTS` domain events); under light
  load a group is a single command and nothing waits for company.

Aggregates stay cached between groups and are not read again before each command. A
command that succeeds on a copy another process has changed since cannot be saved (the
store's versions are unique); a command refused on a cached copy is answered only once
the store confirms it holds nothing newer. Either way the group runs again on fresh
copies, at most `max_retries` times, then every command in it is answered
`ConcurrentModification`.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Concatenate, Generic, ParamSpec, Protocol, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate, DomainEventProtocol
from eventsourcing.persistence import IntegrityError

from shared.application.idempotency import (
    IDEMPOTENCY_KWARG,
    RETENTION,
    Idempotency,
    InFlight,
    Replayed,
    ResponseStore,
)
from shared.clock import Clock
from shared.domain.errors import ConcurrentModification, DomainError
from shared.integration.events import INTERNAL_TYPES

logger = logging.getLogger(__name__)

R = TypeVar("R")
P = ParamSpec("P")
A = TypeVar("A", bound=Aggregate)
DomainEvent = DomainEventProtocol[UUID]

MAX_GROUP_EVENTS = 100
# A write that keeps losing races to other processes is answered `ConcurrentModification`.
MAX_CONFLICT_RETRIES = 5
# Expired answers of keyed writes are deleted this often.
PRUNE_EVERY_SECONDS = 3600.0


@dataclass(frozen=True)
class Saved(Generic[R]):
    """What a command saved (the aggregate, or the copy of it a command returns) and the
    global position of the last domain event it stored; 0 when it stored none."""

    aggregate: R
    position: int


@dataclass(frozen=True)
class Command(Generic[R]):
    """A command ready for a group: what it does with the aggregates, and its key if any."""

    run: Callable[[UnitOfWork], R]
    idempotency: Idempotency | None = None


class HasCommitter(Protocol):
    commits: Committer


class CommandMethod(Generic[P, R]):
    """Makes a method that builds a `Command` into the command itself (see `command`)."""

    def __init__(self, build: Callable[Concatenate[Any, P], Command[R]]) -> None:
        self._build = build
        self.__doc__ = build.__doc__

    def __get__(self, owner: HasCommitter, owner_type: type[Any]) -> BoundCommand[P, R]:
        return BoundCommand(self._build, owner)


class BoundCommand(Generic[P, R]):
    def __init__(self, build: Callable[Concatenate[Any, P], Command[R]], owner: HasCommitter):
        self._build = build
        self._owner = owner

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> Saved[R]:
        """Run the command in the committer's next group; returns once it is saved."""
        return self.submit(*args, **kwargs).result()

    def submit(self, *args: P.args, **kwargs: P.kwargs) -> Future[Saved[R]]:
        """Hand the command to the committer; the future is done once it is saved. For
        callers that must not block, such as the HTTP API's event loop."""
        return self._owner.commits.submit(self._build(self._owner, *args, **kwargs))


def command(build: Callable[Concatenate[Any, P], Command[R]]) -> CommandMethod[P, R]:
    """Decorate a method that builds a `Command`: calling the method then runs the command
    and waits for it (`board.book_seat(...)`), and `.submit(...)` returns a future instead
    (`board.book_seat.submit(...)`), so one definition serves both kinds of caller."""
    return CommandMethod(build)


@dataclass(frozen=True)
class PendingResponse:
    """The answer of a keyed write, to be kept with the domain events that write recorded."""

    idempotency: Idempotency
    status: int
    body: bytes
    events: list[DomainEvent]


@dataclass
class CommitStats:
    """Counters for `/metrics` and the benchmarks; only the committer's thread writes them."""

    commands: int = 0
    groups: int = 0
    conflict_retries: int = 0
    # Commands run again because of those retries.
    retried_commands: int = 0


class AggregateCache:
    """The most recently used aggregates, as last saved; only the committer's thread uses it."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._aggregates: OrderedDict[UUID, Aggregate] = OrderedDict()

    def get(self, aggregate_id: UUID) -> Aggregate | None:
        return self._aggregates.get(aggregate_id)

    def keep(self, aggregates: Iterable[Aggregate]) -> None:
        for aggregate in aggregates:
            self._aggregates[aggregate.id] = aggregate
            self._aggregates.move_to_end(aggregate.id)
        while len(self._aggregates) > self._size:
            self._aggregates.popitem(last=False)

    def forget(self, aggregate_ids: Iterable[UUID]) -> None:
        for aggregate_id in aggregate_ids:
            self._aggregates.pop(aggregate_id, None)


class UnitOfWork:
    """The aggregates one attempt at a group finds and adds; each is loaded once."""

    def __init__(self, cache: AggregateCache, load: Callable[[UUID], Aggregate | None]) -> None:
        self._cache = cache
        self._load = load
        self.aggregates: dict[UUID, Aggregate] = {}
        # The version each aggregate taken from the cache had: it may be stale since.
        self.cached_versions: dict[UUID, int] = {}
        self._touched: set[UUID] = set()
        self._seen_events: dict[UUID, int] = {}

    def find(self, aggregate_id: UUID, kind: type[A]) -> A | None:
        found = self.aggregates.get(aggregate_id)
        if found is None:
            found = self._cache.get(aggregate_id)
            if found is not None:
                self.cached_versions[aggregate_id] = found.version
            else:
                found = self._load(aggregate_id)
                if found is None:
                    return None
            self.aggregates[aggregate_id] = found
        self._touched.add(aggregate_id)
        return found if isinstance(found, kind) else None

    def add(self, *aggregates: Aggregate) -> None:
        for aggregate in aggregates:
            self.aggregates[aggregate.id] = aggregate
            self._touched.add(aggregate.id)

    def end_command(self) -> tuple[list[DomainEvent], set[UUID]]:
        """The domain events the command that just ran recorded, and the aggregates it used."""
        recorded: list[DomainEvent] = []
        touched, self._touched = self._touched, set()
        for aggregate_id in touched:
            pending = self.aggregates[aggregate_id].pending_events
            recorded.extend(pending[self._seen_events.get(aggregate_id, 0) :])
            self._seen_events[aggregate_id] = len(pending)
        return recorded, touched


@dataclass
class Job(Generic[R]):
    command: Command[R]
    future: Future[Saved[R]] = field(default_factory=Future)


@dataclass
class Ran:
    """One job's outcome in one attempt: a result and what it recorded, or a refusal."""

    job: Job[Any]
    result: Any = None
    refusal: Exception | None = None
    recorded: list[DomainEvent] = field(default_factory=list)
    touched: set[UUID] = field(default_factory=set)
    response: PendingResponse | None = None


class _Stale(Exception):
    """A refusal was decided on a cached aggregate that another process has changed since."""


class Committer:
    def __init__(
        self,
        app: Application[UUID],
        responses: ResponseStore,
        clock: Clock,
        *,
        cache_size: int,
        max_retries: int,
    ) -> None:
        self._app = app
        self._responses = responses
        self._clock = clock
        self._cache = AggregateCache(cache_size)
        self._max_retries = max_retries
        self._in_flight = InFlight()
        self._queue: queue.SimpleQueue[Job[Any] | None] = queue.SimpleQueue()
        # Jobs a full group left over; they go first in the next one.
        self._carried: deque[Job[Any]] = deque()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._pruned_at: datetime | None = None
        self.stats = CommitStats()

    @property
    def waiting(self) -> int:
        """Commands queued for a group (approximately: others may be arriving)."""
        return self._queue.qsize() + len(self._carried)

    def run(self, command: Command[R]) -> Saved[R]:
        """Run the command in the next group and wait for it to be saved."""
        return self.submit(command).result()

    def submit(self, command: Command[R]) -> Future[Saved[R]]:
        job: Job[R] = Job(command)
        if command.idempotency is not None:
            release = self._in_flight.claim(command.idempotency)
            job.future.add_done_callback(lambda _: release())
        self._start()
        self._queue.put(job)
        return job.future

    def close(self) -> None:
        with self._start_lock:
            if self._thread is not None:
                self._queue.put(None)
                self._thread.join()
                self._thread = None

    def _start(self) -> None:
        with self._start_lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._work, name="committer", daemon=True)
                self._thread.start()

    def _work(self) -> None:
        while True:
            first = self._carried.popleft() if self._carried else self._queue.get()
            if first is None:
                return
            group = [first, *self._carried]
            self._carried.clear()
            stopping = False
            while not stopping:
                try:
                    waiting = self._queue.get_nowait()
                except queue.Empty:
                    break
                stopping = waiting is None
                if waiting is not None:
                    group.append(waiting)
            try:
                self._commit(group)
                self._prune_answers()
            except BaseException as error:
                # Nothing may leave a caller waiting for ever.
                logger.exception("the committer failed a group of %d", len(group))
                for job in group:
                    if not job.future.done():
                        job.future.set_exception(error)
            if stopping:
                return

    def _commit(self, jobs: list[Job[Any]]) -> None:
        conflicts = 0
        while jobs:
            uow = UnitOfWork(self._cache, self._load)
            ran, broken = self._attempt(uow, jobs)
            if broken is not None:
                # Its aggregates may be half-changed: start over without it.
                self._cache.forget(uow.aggregates)
                jobs = [job for job in jobs if job is not broken]
                continue
            try:
                self._check_refusals_are_fresh(uow, ran)
                positions = self._save(uow, ran)
            except (IntegrityError, _Stale) as error:
                self._cache.forget(uow.aggregates)
                conflicts += 1
                self.stats.conflict_retries += 1
                self.stats.retried_commands += len(ran)
                logger.info("a group of %d ran into %r (retry %d)", len(ran), error, conflicts)
                jobs = [r.job for r in ran]
                if conflicts > self._max_retries:
                    self._answer_all(jobs, ConcurrentModification())
                    return
                continue
            except BaseException:
                self._cache.forget(uow.aggregates)
                raise
            self._cache.keep(uow.aggregates.values())
            self.stats.groups += 1
            self.stats.commands += len(ran)
            self._deliver(ran, positions)
            return

    def _attempt(self, uow: UnitOfWork, jobs: list[Job[Any]]) -> tuple[list[Ran], Job[Any] | None]:
        """Run the jobs in order until the group is full; returns their outcomes, or the job
        that failed outright (which is answered with its error)."""
        ran: list[Ran] = []
        recorded = 0
        for index, job in enumerate(jobs):
            if recorded >= MAX_GROUP_EVENTS:
                self._carried.extendleft(reversed(jobs[index:]))
                break
            try:
                outcome = self._run(job, uow)
            except Exception as error:
                job.future.set_exception(error)
                return ran, job
            ran.append(outcome)
            recorded += len(outcome.recorded)
        return ran, None

    def _run(self, job: Job[Any], uow: UnitOfWork) -> Ran:
        key = job.command.idempotency
        try:
            if key is not None:
                self._replay_if_answered(key)
            try:
                result = job.command.run(uow)
            except DomainError:
                if key is not None:
                    # Another process may have answered the key since: its answer, not the
                    # refusal its write causes (e.g. already booked), is this request's.
                    self._replay_if_answered(key)
                raise
        except (DomainError, Replayed) as refusal:
            _, touched = uow.end_command()
            return Ran(job, refusal=refusal, touched=touched)
        recorded, touched = uow.end_command()
        response = None
        if key is not None and recorded:
            status, body = key.render(result)
            response = PendingResponse(key, status, body, recorded)
        return Ran(job, result=result, recorded=recorded, touched=touched, response=response)

    def _replay_if_answered(self, key: Idempotency) -> None:
        found = self._responses.find_response(key.user_id, key.key, self._clock.now() - RETENTION)
        if found is not None:
            raise found.replay_for(key.fingerprint)

    def _load(self, aggregate_id: UUID) -> Aggregate | None:
        try:
            loaded: Aggregate = self._app.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None
        return loaded

    def _check_refusals_are_fresh(self, uow: UnitOfWork, ran: list[Ran]) -> None:
        suspects = {
            aggregate_id
            for outcome in ran
            if isinstance(outcome.refusal, DomainError)
            for aggregate_id in outcome.touched
            if aggregate_id in uow.cached_versions
        }
        events = self._app.repository.event_store
        for aggregate_id in suspects:
            if list(events.get(aggregate_id, gt=uow.cached_versions[aggregate_id], limit=1)):
                raise _Stale(aggregate_id)

    def _save(self, uow: UnitOfWork, ran: list[Ran]) -> dict[int, int]:
        """Save the group; returns the position of each stored domain event, by object id."""
        changed = [a for a in uow.aggregates.values() if a.pending_events]
        if not changed:
            return {}
        responses = [outcome.response for outcome in ran if outcome.response is not None]
        recordings = self._app.save(*changed, **{IDEMPOTENCY_KWARG: responses})
        return {id(r.domain_event): r.notification.id for r in recordings}

    def _deliver(self, ran: list[Ran], positions: dict[int, int]) -> None:
        for outcome in ran:
            if outcome.refusal is not None:
                outcome.job.future.set_exception(outcome.refusal)
                continue
            # Internal events never reach a projection, so a reader must not wait for them.
            position = max(
                (positions[id(e)] for e in outcome.recorded if type(e) not in INTERNAL_TYPES),
                default=0,
            )
            outcome.job.future.set_result(Saved(outcome.result, position))

    @staticmethod
    def _answer_all(jobs: list[Job[Any]], error: Exception) -> None:
        for job in jobs:
            job.future.set_exception(error)

    def _prune_answers(self) -> None:
        now = self._clock.now()
        if self._pruned_at is None or (now - self._pruned_at).total_seconds() > PRUNE_EVERY_SECONDS:
            self._pruned_at = now
            self._responses.prune_responses(now - RETENTION)
