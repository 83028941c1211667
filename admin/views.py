"""Read-only lists of the read models: search, filters and sorting, times in local zones."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from markupsafe import Markup, escape
from sqladmin import ModelView
from sqladmin.filters import StaticValuesFilter
from starlette.requests import Request

from admin.tables import Bookings, Events, Notifications, Ratings, Tags, Users
from admin.times import local_time
from shared.domain.event import CANCELLED, FINISHED, UPCOMING
from shared.notifications import TYPE_DISPLAY
from shared.read_model.schema import DELETED_STATUS

STATUS_LABELS = {
    UPCOMING: "Ожидается",
    CANCELLED: "Отменено",
    FINISHED: "Завершено",
    DELETED_STATUS: "Удалено",
}
YES_NO = [("true", "Да"), ("false", "Нет")]
# Bookings and ratings are each one user's at one event, and are looked up by either.
EVENT_AND_USER = {"event_id": "Мероприятие", "user_id": "Пользователь"}

Formatter = Callable[[Any, Any], Any]


class Choice(StaticValuesFilter):
    """A filter by listed values, its "all" in Russian; `convert` reads a value for its column."""

    def __init__(
        self,
        column: str,
        values: list[tuple[str, str]],
        title: str,
        convert: Callable[[str], Any] = str,
    ) -> None:
        super().__init__(column, values, title=title)
        self.convert = convert

    async def lookups(self, request: Request, model: Any, run_query: Any) -> list[tuple[str, str]]:
        return [("__all", "Все"), *self.values]

    async def get_filtered_query(self, query: Any, value: Any, model: Any) -> Any:
        if value not in {v for v, _label in self.values}:
            return query
        return query.filter(getattr(model, self.parameter_name) == self.convert(value))


def is_yes(value: str) -> bool:
    return value == "true"


def moscow(attribute: str) -> Formatter:
    return lambda row, _attr: local_time(getattr(row, attribute))


def in_event_zone(attribute: str) -> Formatter:
    return lambda row, _attr: local_time(getattr(row, attribute), row.timezone)


def link(path: str, text: str) -> Markup:
    return Markup('<a href="{}">{}</a>').format(path, text)


def event_links(row: Any, _attr: Any) -> Markup:
    base = f"/admin/actions/events/{row.id}"
    actions = [
        ("edit", "Изменить"),
        ("cancel", "Отменить"),
        ("finish", "Завершить"),
        ("delete", "Удалить"),
    ]
    links = Markup(" · ").join(link(f"{base}/{name}", label) for name, label in actions)
    return Markup("{}<br>{}").format(escape(str(row.id)), links)


def user_links(row: Any, _attr: Any) -> Markup:
    base = f"/admin/actions/users/{row.id}"
    actions = [
        ("deactivate", "Отключить") if row.is_active else ("reactivate", "Включить"),
        ("revoke_staff", "Снять права администратора")
        if row.is_staff
        else ("grant_staff", "Сделать администратором"),
    ]
    links = Markup(" · ").join(link(f"{base}/{name}", label) for name, label in actions)
    return Markup("{}<br>{}").format(escape(str(row.id)), links)


class ReadOnly(ModelView):
    """A view that changes nothing. Its `column_labels` name its columns in the order they are
    shown, so that a list of all of them need not name them again."""

    can_create = False
    can_edit = False
    can_delete = False
    can_export = False
    page_size = 25


class EventsView(ReadOnly, model=Events):
    name = "Мероприятие"
    name_plural = "Мероприятия"
    icon = "fa-solid fa-calendar"
    column_list: ClassVar[Any] = [
        "title",
        "start_time",
        "location",
        "status",
        "organizer_username",
        "booked_count",
        "seats",
        "avg_rating",
    ]
    column_labels: ClassVar[Any] = {
        "id": "Id и действия",
        "title": "Название",
        "description": "Описание",
        "start_time": "Начало",
        "timezone": "Часовой пояс",
        "location": "Город",
        "status": "Статус",
        "organizer_username": "Организатор",
        "organizer_id": "Id организатора",
        "tags": "Теги",
        "seats": "Мест",
        "booked_count": "Забронировано",
        "avg_rating": "Рейтинг",
        "rating_count": "Оценок",
        "created_at": "Создано",
        "updated_at": "Изменено",
    }
    column_details_list: ClassVar[Any] = list(column_labels)
    column_searchable_list: ClassVar[Any] = [
        "title",
        "location",
        "organizer_username",
    ]
    column_sortable_list: ClassVar[Any] = [
        "title",
        "start_time",
        "status",
        "booked_count",
        "avg_rating",
        "created_at",
    ]
    column_default_sort: ClassVar[Any] = [("start_time", True)]
    column_filters: ClassVar[Any] = [
        Choice("status", list(STATUS_LABELS.items()), title="Статус"),
    ]
    column_formatters: ClassVar[Any] = {
        "start_time": in_event_zone("start_time"),
        "status": lambda row, _attr: STATUS_LABELS.get(row.status, row.status),
    }
    column_formatters_detail: ClassVar[Any] = {
        "id": event_links,
        "start_time": in_event_zone("start_time"),
        "created_at": in_event_zone("created_at"),
        "updated_at": in_event_zone("updated_at"),
        "status": lambda row, _attr: STATUS_LABELS.get(row.status, row.status),
        "tags": lambda row, _attr: ", ".join(row.tags),
    }


class UsersView(ReadOnly, model=Users):
    name = "Пользователь"
    name_plural = "Пользователи"
    icon = "fa-solid fa-user"
    column_list: ClassVar[Any] = [
        "username",
        "email",
        "is_staff",
        "is_active",
        "date_joined",
    ]
    column_details_list: ClassVar[Any] = ["id", *column_list]
    column_labels: ClassVar[Any] = {
        "id": "Id и действия",
        "username": "Имя пользователя",
        "email": "E-mail",
        "is_staff": "Администратор",
        "is_active": "Активен",
        "date_joined": "Зарегистрирован",
    }
    column_searchable_list: ClassVar[Any] = ["username", "email"]
    column_sortable_list: ClassVar[Any] = ["username", "date_joined"]
    column_default_sort: ClassVar[Any] = [("date_joined", True)]
    column_filters: ClassVar[Any] = [
        Choice("is_staff", YES_NO, title="Администратор", convert=is_yes),
        Choice("is_active", YES_NO, title="Активен", convert=is_yes),
    ]
    column_formatters: ClassVar[Any] = {"date_joined": moscow("date_joined")}
    column_formatters_detail: ClassVar[Any] = {
        "id": user_links,
        "date_joined": moscow("date_joined"),
    }


class BookingsView(ReadOnly, model=Bookings):
    name = "Бронь"
    name_plural = "Брони"
    icon = "fa-solid fa-ticket"
    column_labels: ClassVar[Any] = {
        "booking_id": "Бронь",
        **EVENT_AND_USER,
        "booked_at": "Забронировано",
    }
    column_list: ClassVar[Any] = list(column_labels)
    column_searchable_list: ClassVar[Any] = list(EVENT_AND_USER)
    column_sortable_list: ClassVar[Any] = ["booked_at"]
    column_default_sort: ClassVar[Any] = [("booked_at", True)]
    column_formatters: ClassVar[Any] = {"booked_at": moscow("booked_at")}
    column_formatters_detail = column_formatters


class RatingsView(ReadOnly, model=Ratings):
    name = "Оценка"
    name_plural = "Оценки"
    icon = "fa-solid fa-star"
    column_labels: ClassVar[Any] = {**EVENT_AND_USER, "score": "Оценка", "rated_at": "Оценено"}
    column_list: ClassVar[Any] = list(column_labels)
    column_searchable_list: ClassVar[Any] = list(EVENT_AND_USER)
    column_sortable_list: ClassVar[Any] = ["score", "rated_at"]
    column_default_sort: ClassVar[Any] = [("rated_at", True)]
    column_filters: ClassVar[Any] = [
        Choice("score", [(str(n), str(n)) for n in range(1, 6)], title="Оценка", convert=int),
    ]
    column_formatters: ClassVar[Any] = {"rated_at": moscow("rated_at")}
    column_formatters_detail = column_formatters


class TagsView(ReadOnly, model=Tags):
    name = "Тег"
    name_plural = "Теги"
    icon = "fa-solid fa-tag"
    column_labels: ClassVar[Any] = {"name": "Тег", "events_count": "Мероприятий"}
    column_list: ClassVar[Any] = list(column_labels)
    column_searchable_list: ClassVar[Any] = ["name"]
    column_sortable_list: ClassVar[Any] = ["name", "events_count"]
    column_default_sort: ClassVar[Any] = [("events_count", True)]


class NotificationsView(ReadOnly, model=Notifications):
    name = "Уведомление"
    name_plural = "Уведомления"
    icon = "fa-solid fa-bell"
    column_labels: ClassVar[Any] = {
        "created_at": "Создано",
        "type": "Тип",
        "user_id": "Получатель",
        "event_id": "Мероприятие",
        "message": "Текст",
    }
    column_list: ClassVar[Any] = list(column_labels)
    column_searchable_list: ClassVar[Any] = ["message", "user_id", "event_id"]
    column_sortable_list: ClassVar[Any] = ["created_at", "type"]
    column_default_sort: ClassVar[Any] = [("created_at", True)]
    column_filters: ClassVar[Any] = [
        Choice("type", list(TYPE_DISPLAY.items()), title="Тип"),
    ]
    column_formatters: ClassVar[Any] = {
        "created_at": moscow("created_at"),
        "type": lambda row, _attr: TYPE_DISPLAY.get(row.type, row.type),
    }
    column_formatters_detail = column_formatters


READ_MODEL_VIEWS: tuple[type[ModelView], ...] = (
    EventsView,
    UsersView,
    BookingsView,
    RatingsView,
    TagsView,
    NotificationsView,
)
