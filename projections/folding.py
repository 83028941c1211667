"""Folding integration events into read-model rows, in memory, with no I/O.

The live agent and the replay both load the current rows, call `fold`, and write
what it returns, so a replay cannot disagree with live processing. `fold` decides,
per message, from the version the row reflects: apply it (the next version), skip
it (a duplicate), or park it (a gap, a failing handler, or an aggregate already
parked — an aggregate's order is never broken).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, MutableMapping, MutableSet
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from sqlalchemy import Table

from shared.integration.envelope import Envelope

Row = dict[str, Any]
# A handler returns a new row after the message (never changing the one it is given);
# `fold` sets the bookkeeping columns.
Handler = Callable[[Envelope, "Row | None"], Row]


def setting(**values: Any) -> Handler:
    """A handler that sets these columns of an existing row."""

    def handle(envelope: Envelope, row: Row | None) -> Row:
        if row is None:
            raise ValueError(f"{envelope.type} needs the row it changes")
        return {**row, **values}

    return handle


@dataclass(frozen=True)
class Put:
    """Insert the row of a child table, or replace the one with the same primary key."""

    table: str
    values: Row


@dataclass(frozen=True)
class Remove:
    """Delete the row of a child table with this primary key, if there is one."""

    table: str
    key: Row


@dataclass(frozen=True)
class Add:
    """Add to counters of a child table's row, creating it from `key` and `defaults`."""

    table: str
    key: Row
    amounts: Mapping[str, int]
    defaults: Row = field(default_factory=dict)


ChildWrite = Put | Remove | Add
# What a message does to child tables, given its aggregate's row before and after it.
Effect = Callable[[Envelope, "Row | None", "Row | None"], list[ChildWrite]]


@dataclass(frozen=True)
class Projection:
    """A read model: its table (keyed by `id`, with `version` and `position` columns),
    the streams it consumes, and a handler per integration-event type.

    `creates` names the types that create a row. A type without a handler moves an
    existing row's version on and changes nothing else, so a new kind of domain event
    of the same aggregate does not park its later events.

    `effects` write rows of the `children` tables (several per aggregate, e.g. one per
    booking). They run only for a message the row has not seen, in the same transaction
    as the row, so a duplicate changes nothing there either. A message of an aggregate
    that has no row here (a tag's) always runs its effect, which must then be idempotent.
    One child table takes either `Put`/`Remove` or `Add`, not both.
    """

    name: str
    table: Table
    streams: tuple[str, ...]
    handlers: Mapping[str, Handler]
    creates: frozenset[str]
    children: tuple[Table, ...] = ()
    effects: Mapping[str, Effect] = field(default_factory=dict)
    # Columns computed from the others, after every handler (folded text, sort keys).
    derive: Callable[[Row], Row] = lambda row: row
    # Child writes that follow from how a row changed, whatever the message (counters).
    on_change: Callable[[Row | None, Row], list[ChildWrite]] = lambda before, after: []
    # Whether reads wait for its watermark (`X-Min-Position`): such a watermark follows the
    # relay's head at once, also when only streams it does not read moved. One no read
    # waits for moves with its own batches and the safety round, which pruning and a
    # resend's starting point can afford.
    awaited: bool = True

    @property
    def tables(self) -> tuple[Table, ...]:
        return (self.table, *self.children)


@dataclass
class Parked:
    envelope: Envelope
    error: str


@dataclass
class Folded:
    """What `fold` decided: rows to write, child writes in order, positions done, and
    messages to park."""

    changed: dict[UUID, Row] = field(default_factory=dict)
    writes: list[ChildWrite] = field(default_factory=list)
    applied: list[int] = field(default_factory=list)
    parked: list[Parked] = field(default_factory=list)


class VersionGap(Exception):
    """A message that is not the next version of its row: an earlier one is missing."""


def fold(
    projection: Projection,
    rows: MutableMapping[UUID, Row],
    parked_aggregates: MutableSet[UUID],
    envelopes: Iterable[Envelope],
) -> Folded:
    """Apply `envelopes` in order to `rows` (updated in place); `parked_aggregates` grows."""
    folded = Folded()
    for envelope in envelopes:
        aggregate_id = envelope.aggregate_id
        if aggregate_id in parked_aggregates:
            folded.parked.append(Parked(envelope, "parked behind an earlier message"))
            continue
        before = rows.get(aggregate_id)
        try:
            row = _next_row(projection, before, envelope)
            effect = projection.effects.get(envelope.type)
            seen = before is not None and envelope.version <= before["version"]
            writes = effect(envelope, before, row or before) if effect and not seen else []
            if row is not None:
                writes += projection.on_change(before, row)
        except Exception as exc:
            parked_aggregates.add(aggregate_id)
            folded.parked.append(Parked(envelope, f"{type(exc).__name__}: {exc}"))
            continue
        if row is not None:
            rows[aggregate_id] = folded.changed[aggregate_id] = row
        folded.writes.extend(writes)
        folded.applied.append(envelope.position)
    return folded


def _next_row(projection: Projection, row: Row | None, envelope: Envelope) -> Row | None:
    """The row after `envelope`, or None when the message changes nothing."""
    handler = projection.handlers.get(envelope.type)
    if row is None:
        if envelope.type in projection.creates:
            return _stamped(
                projection, projection.handlers[envelope.type](envelope, None), envelope
            )
        if handler is None:
            return None
        raise VersionGap(f"no row yet for version {envelope.version}")
    if envelope.version <= row["version"]:
        return None
    if envelope.type in projection.creates or envelope.version != row["version"] + 1:
        raise VersionGap(f"version {envelope.version} after version {row['version']}")
    return _stamped(projection, dict(row) if handler is None else handler(envelope, row), envelope)


def _stamped(projection: Projection, row: Row, envelope: Envelope) -> Row:
    row = projection.derive(row)
    row["version"] = envelope.version
    row["position"] = envelope.position
    return row
