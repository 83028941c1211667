"""Filling the board with a large, plausible data set: the documented bulk path.

Aggregates are built in memory by their own methods, so every rule holds (seats, one
booking per user, ratings by participants of started events), and saved through the
board's recorder in groups, so every event gets its outbox row and reaches the
projections like any other write. What it skips is HTTP and one commit per command:
that is what makes a million bookings take minutes instead of hours. Bookers are
synthetic user ids (`demo<n>`), not registered users.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import NAMESPACE_URL, UUID, uuid5

from shared.application.board import Board
from shared.domain.event import Event, EventDetails
from shared.domain.tag import Tag

# Few aggregates per save: the library's save slows down sharply with very large groups.
AGGREGATES_PER_SAVE = 50
CITIES = (
    "Москва", "Санкт-Петербург", "Новосибирск", "Екатеринбург", "Казань", "Нижний Новгород",
    "Челябинск", "Самара", "Омск", "Ростов-на-Дону", "Уфа", "Красноярск", "Воронеж", "Пермь",
    "Волгоград", "Краснодар", "Саратов", "Тюмень", "Тольятти", "Ижевск", "Барнаул", "Иркутск",
    "Ульяновск", "Хабаровск", "Ярославль", "Владивосток", "Махачкала", "Томск", "Оренбург",
    "Кемерово",
)  # fmt: skip
TOPICS = (
    "джаз", "рок", "лекция", "выставка", "театр", "кино", "python", "data", "startup", "йога",
    "бег", "шахматы", "фотография", "дизайн", "история", "наука", "детям", "квиз", "стендап",
    "опера", "балет", "фестиваль", "ярмарка", "экскурсия", "мастер-класс", "книги", "поэзия",
    "вино", "кофе", "настолки", "хакатон", "robotics", "ai", "marketing", "music", "art",
)  # fmt: skip
WORDS = (
    "вечер", "встреча", "концерт", "открытый", "летний", "зимний", "большой", "городской",
    "ночной", "клуб", "разговор", "практика", "марафон", "турнир", "показ", "семинар",
)  # fmt: skip


@dataclass(frozen=True)
class DemoSize:
    events: int
    bookings: int
    ratings: int


@dataclass
class Filled:
    events: int = 0
    bookings: int = 0
    ratings: int = 0
    domain_events: int = 0


def demo_user(n: int) -> tuple[UUID, str]:
    return uuid5(NAMESPACE_URL, f"eventboard:demo-user:{n}"), f"demo{n}"


def fill_board(
    board: Board,
    size: DemoSize,
    *,
    now: datetime,
    seed: int = 1,
    on_saved: Callable[[Filled], None] = lambda filled: None,
) -> Filled:
    """Create `size` worth of events, bookings and ratings; about a third of the events
    have started (and are rated, then mostly finished)."""
    rng = random.Random(seed)
    filled = Filled()
    tags = [Tag.create(name=name, now=now) for name in TOPICS]
    filled.domain_events += _save(board, tags)
    users = max(1, size.bookings // 10)
    per_event = max(size.bookings / max(1, size.events), 1e-9)
    rated_share = min(1.0, size.ratings / max(1.0, size.bookings * 0.35))
    batch: list[Event] = []
    for n in range(size.events):
        event = _event(rng, n, now, per_event, users, rated_share, filled)
        batch.append(event)
        if len(batch) == AGGREGATES_PER_SAVE:
            filled.domain_events += _save(board, batch)
            on_saved(filled)
            batch = []
    filled.domain_events += _save(board, batch)
    on_saved(filled)
    return filled


def _event(
    rng: random.Random,
    n: int,
    now: datetime,
    bookings_per_event: float,
    users: int,
    rated_share: float,
    filled: Filled,
) -> Event:
    start = now + timedelta(minutes=rng.randint(-60 * 24 * 60, 120 * 24 * 60))
    scheduled_at = min(now, start) - timedelta(days=rng.randint(1, 30))
    topic_tags = rng.sample(TOPICS, rng.randint(0, 3))
    organizer_id, organizer_username = demo_user(rng.randrange(users))
    details = EventDetails(
        title=f"{rng.choice(WORDS).capitalize()} {rng.choice(TOPICS)} №{n}",
        description=" ".join(rng.choices(WORDS + TOPICS, k=rng.randint(10, 40))),
        start_time=start,
        timezone="Europe/Moscow",
        location=rng.choice(CITIES),
        seats=rng.randint(5, 200),
        tags=topic_tags,
    )
    event = Event.schedule(
        details,
        organizer_id=organizer_id,
        organizer_username=organizer_username,
        now=scheduled_at,
    )
    booked_at = scheduled_at + (min(now, start) - scheduled_at) / 2
    wanted = min(event.seats, int(rng.expovariate(1 / bookings_per_event)))
    for user_id, username in _bookers(rng, users, wanted):
        event.book(user_id=user_id, username=username, now=booked_at)
        filled.bookings += 1
    if start < now:
        rated_at = min(now, start + timedelta(hours=2))
        for user in list(event.bookings):
            if rng.random() < rated_share:
                event.rate(user_id=UUID(user), score=rng.randint(1, 5), now=rated_at)
                filled.ratings += 1
        if start + timedelta(hours=2) < now:
            event.finish(start + timedelta(hours=2))
    filled.events += 1
    return event


def _bookers(rng: random.Random, users: int, count: int) -> Iterator[tuple[UUID, str]]:
    for n in rng.sample(range(users), min(count, users)):
        yield demo_user(n)


def _save(board: Board, aggregates: list[Event] | list[Tag]) -> int:
    if not aggregates:
        return 0
    return len(board.save(*aggregates))
