"""Text as the read model stores it for matching, the same way in projections and queries."""

from __future__ import annotations

# Joins a row's folded tags into one text; no tag name can contain it.
TAG_SEPARATOR = "\x1f"


def fold_text(text: str) -> str:
    """Case-folded in Python, so matching works for Cyrillic whatever the database locale."""
    return text.casefold()


def joined_tags(folded_tags: list[str]) -> str:
    """The text the `tag` filter searches: every tag, each bounded by the separator."""
    return "".join(f"{TAG_SEPARATOR}{tag}{TAG_SEPARATOR}" for tag in folded_tags)
