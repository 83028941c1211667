"""Pydantic's validation errors, as `{"<field>": ["<Russian message>", ...]}`."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel, field_validator

# Errors about the request as a whole (unreadable JSON, not an object) go under this key.
NON_FIELD_ERRORS = "non_field_errors"
_SOURCES = frozenset({"body", "query", "path", "header", "cookie"})

_DATETIME_FORMAT = (
    "Неправильный формат даты и времени. Используйте ISO 8601 со смещением,"
    " например 2026-12-01T18:00:00+03:00."
)
_DATE_FORMAT = "Неправильный формат даты. Используйте ГГГГ-ММ-ДД, например 2026-12-01."
_INTEGER = "Требуется целое число."
_MESSAGES: dict[str, str] = {
    "missing": "Обязательное поле.",
    "string_type": "Ожидается строка.",
    "string_too_short": "Убедитесь, что это значение содержит не менее {min_length} символов.",
    "string_too_long": "Убедитесь, что это значение содержит не более {max_length} символов.",
    "int_type": _INTEGER,
    "int_parsing": _INTEGER,
    "int_from_float": _INTEGER,
    "float_type": "Требуется число.",
    "float_parsing": "Требуется число.",
    "decimal_type": "Требуется число.",
    "decimal_parsing": "Требуется число.",
    "finite_number": "Требуется конечное число.",
    "decimal_max_places": "Не более {decimal_places} знаков после запятой.",
    "string_pattern_mismatch": "Недопустимые символы.",
    "bool_type": "Требуется логическое значение.",
    "bool_parsing": "Требуется логическое значение.",
    "greater_than_equal": "Убедитесь, что это значение больше либо равно {ge}.",
    "less_than_equal": "Убедитесь, что это значение меньше либо равно {le}.",
    "greater_than": "Убедитесь, что это значение больше {gt}.",
    "less_than": "Убедитесь, что это значение меньше {lt}.",
    "list_type": "Ожидается список.",
    "too_long": "Не более {max_length} элементов.",
    "too_short": "Не менее {min_length} элементов.",
    "datetime_type": _DATETIME_FORMAT,
    "datetime_parsing": _DATETIME_FORMAT,
    "datetime_from_date_parsing": _DATETIME_FORMAT,
    "date_type": _DATE_FORMAT,
    "date_parsing": _DATE_FORMAT,
    "date_from_datetime_parsing": _DATE_FORMAT,
    "date_from_datetime_inexact": _DATE_FORMAT,
    "timezone_aware": "Укажите смещение часового пояса, например 2026-12-01T18:00:00+03:00.",
    "uuid_type": "Некорректный идентификатор.",
    "uuid_parsing": "Некорректный идентификатор.",
    "literal_error": "Недопустимое значение. Допустимые значения: {expected}.",
    "enum": "Недопустимое значение. Допустимые значения: {expected}.",
    "json_invalid": "Некорректный JSON.",
    "model_attributes_type": "Ожидается JSON-объект.",
    "dict_type": "Ожидается JSON-объект.",
    "model_type": "Ожидается JSON-объект.",
    "value_error": "{error}",
    "assertion_error": "{error}",
}


def field_errors(errors: Iterable[Mapping[str, Any]]) -> dict[str, list[str]]:
    by_field: dict[str, list[str]] = {}
    for error in errors:
        by_field.setdefault(_field_of(error.get("loc", ())), []).append(_message_of(error))
    return by_field


def _field_of(loc: Iterable[Any]) -> str:
    parts = list(loc)
    if parts and parts[0] in _SOURCES:
        parts = parts[1:]
    # The first element after the source names the field; an int there is a JSON offset.
    if not parts or not isinstance(parts[0], str):
        return NON_FIELD_ERRORS
    return parts[0]


def _message_of(error: Mapping[str, Any]) -> str:
    template = _MESSAGES.get(str(error.get("type")))
    context = error.get("ctx") or {}
    if template is None:
        return str(error.get("msg", "Некорректное значение."))
    if error.get("type") == "string_too_short" and context.get("min_length") == 1:
        return "Это поле не может быть пустым."
    try:
        return template.format(**{k: str(v) for k, v in context.items()})
    except KeyError:
        return str(error.get("msg", "Некорректное значение."))


# NUL, which PostgreSQL cannot store in text, and the halves of UTF-16 surrogate pairs
# (JSON may spell one alone, "\ud800"), which no UTF-8 text can hold.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _holds_unstorable(value: Any) -> bool:
    if isinstance(value, str):
        return _UNSTORABLE.search(value) is not None
    if isinstance(value, list | tuple | set | frozenset):
        return any(_holds_unstorable(item) for item in value)
    return False


class RequestModel(BaseModel):
    """What a client sends: its text may hold any character that text can be stored with.

    A NUL or a lone surrogate would fail wherever the text is stored or encoded (a 500 on
    a read, a login or a registration) or, worse, be accepted into the event store and
    then fail to project; it is refused here, as a validation error of its field.
    """

    @field_validator("*", mode="after")
    @classmethod
    def _storable_text(cls, value: Any) -> Any:
        if _holds_unstorable(value):
            raise ValueError("Текст содержит недопустимый символ (NUL или одиночный суррогат).")
        return value
