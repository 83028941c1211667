"""The statements of a listing, built once per distinct request and kept a while.

Building a listing's count and page statements from its filters, and SQLAlchemy working
out their cache keys, cost a signed-in listing about a tenth of its CPU (measured with
py-spy); the same few listings are asked for again and again, so each distinct one
(filters, order, page) keeps its statements, the least recently asked going first.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from sqlalchemy import Select

from query_api.event_filters import EventFilters
from query_api.event_ordering import Ordering
from query_api.pagination import PageRequest
from shared.read_model.views.events import count_query, list_query

MAX_KEPT = 1024


class ListingQueries:
    def __init__(self) -> None:
        self._kept: OrderedDict[tuple[str, str, int, int], tuple[Select[Any], Select[Any]]] = (
            OrderedDict()
        )

    def of(
        self, filters: EventFilters, ordering: Ordering, pages: PageRequest
    ) -> tuple[Select[Any], Select[Any]]:
        """The count and page statements of this listing."""
        key = (filters.model_dump_json(exclude_none=True), ordering.asked, pages.offset, pages.size)
        kept = self._kept.get(key)
        if kept is None:
            conditions = filters.conditions()
            kept = self._kept[key] = (
                count_query(conditions),
                list_query(conditions, ordering.columns, offset=pages.offset, limit=pages.size),
            )
            if len(self._kept) > MAX_KEPT:
                self._kept.popitem(last=False)
        else:
            self._kept.move_to_end(key)
        return kept
