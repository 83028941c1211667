"""The one small hierarchy of domain errors; the APIs map each kind to an HTTP status."""

from __future__ import annotations


class DomainError(Exception):
    """A rule of the domain refused a command. `code` is the stable client-facing code."""

    code = "domain_error"
    detail = "Операция невозможна."

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail or self.detail)
        if detail is not None:
            self.detail = detail


class NotFound(DomainError):
    code = "not_found"
    detail = "Не найдено."


class Forbidden(DomainError):
    code = "permission_denied"
    detail = "Недостаточно прав."


class RuleViolated(DomainError):
    """The command is well-formed but breaks a business rule (HTTP 400)."""


class Conflict(DomainError):
    code = "conflict"
    detail = "Конфликт."


class Unprocessable(DomainError):
    """A well-formed request that cannot be carried out as sent (HTTP 422)."""

    code = "unprocessable"
    detail = "Запрос не может быть выполнен."


class EventNotFound(NotFound):
    code = "event_not_found"
    detail = "Мероприятие не найдено."


class NotOrganizer(Forbidden):
    code = "not_organizer"
    detail = "Изменять мероприятие может только организатор или администратор."


class EditWindowClosed(Forbidden):
    code = "edit_window_closed"
    detail = "Изменять мероприятие можно только в течение часа после создания."


class DeleteWindowClosed(Forbidden):
    code = "delete_window_closed"
    detail = "Удалить мероприятие можно только в течение часа после создания."


class StartTimeInPast(RuleViolated):
    code = "start_time_in_past"
    detail = "Время начала должно быть в будущем."


class SeatsBelowBooked(RuleViolated):
    code = "seats_below_booked"
    detail = "Мест не может быть меньше, чем уже забронировано."


class InvalidStatusTransition(RuleViolated):
    code = "invalid_status_transition"
    detail = "Недопустимая смена статуса."


class EventNotBookable(RuleViolated):
    code = "event_not_bookable"
    detail = "Забронировать можно только предстоящее мероприятие, которое ещё не началось."


class NoFreeSeats(RuleViolated):
    code = "no_free_seats"
    detail = "Свободных мест нет."


class AlreadyBooked(RuleViolated):
    code = "already_booked"
    detail = "Вы уже забронировали место на это мероприятие."


class SeatsAvailable(RuleViolated):
    code = "seats_available"
    detail = "Свободные места есть: забронируйте место вместо очереди."


class AlreadyWaitlisted(RuleViolated):
    code = "already_waitlisted"
    detail = "Вы уже в листе ожидания этого мероприятия."


class NotWaitlisted(NotFound):
    code = "not_waitlisted"
    detail = "Вас нет в листе ожидания этого мероприятия."


class NotBooked(RuleViolated):
    code = "not_booked"
    detail = "У вас нет брони на это мероприятие."


class EventAlreadyStarted(RuleViolated):
    code = "event_already_started"
    detail = "Мероприятие уже началось, бронь отменить нельзя."


class StartedEventNotMovable(RuleViolated):
    """Moving a started event would reopen bookings and cancellations beside its ratings."""

    code = "event_already_started"
    detail = "Мероприятие уже началось, время начала изменить нельзя."


class EventNotPast(RuleViolated):
    code = "event_not_past"
    detail = "Оценить можно только состоявшееся мероприятие, которое не было отменено."


class NotAParticipant(RuleViolated):
    code = "not_a_participant"
    detail = "Оценить мероприятие могут только его участники."


class TagExists(RuleViolated):
    code = "tag_exists"
    detail = "Такой тег уже существует."


class IdempotencyKeyReused(Unprocessable):
    code = "idempotency_key_reused"
    detail = "Этот ключ идемпотентности уже использован с другим запросом."


class IdempotencyInProgress(Conflict):
    code = "idempotency_in_progress"
    detail = "Запрос с этим ключом идемпотентности ещё выполняется."


class ConcurrentModification(Conflict):
    code = "concurrent_modification"
    detail = "Данные изменились одновременно с вашим запросом, повторите попытку."


class InvalidField(RuleViolated):
    """A value breaks a rule of its field; answered like a validation error of that field."""

    code = "validation_error"

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(detail)
        self.field = field


class UsernameTaken(RuleViolated):
    code = "username_taken"
    detail = "Пользователь с таким именем уже существует."


class EmailTaken(RuleViolated):
    code = "email_taken"
    detail = "Пользователь с таким e-mail уже существует."


class OwnAccessProtected(Forbidden):
    code = "own_access_protected"
    detail = "Нельзя отключить свою учётную запись или снять с себя права администратора."


class InvalidCredentials(DomainError):
    code = "invalid_credentials"
    detail = "Неверное имя пользователя или пароль."


class UserNotFound(NotFound):
    code = "user_not_found"
    detail = "Пользователь не найден."
