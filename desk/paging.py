"""Pages of the desk's lists: a page number from the query string, clamped, and the figures the pager shows."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Page:
    number: int
    per_page: int
    count: int

    @property
    def num_pages(self) -> int:
        return max(1, -(-self.count // self.per_page))

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.per_page

    @property
    def start_index(self) -> int:
        return self.offset + 1 if self.count else 0

    @property
    def end_index(self) -> int:
        return min(self.offset + self.per_page, self.count)

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.num_pages

    @property
    def has_other_pages(self) -> bool:
        return self.num_pages > 1

    @property
    def previous_page_number(self) -> int:
        return self.number - 1

    @property
    def next_page_number(self) -> int:
        return self.number + 1


def page_of(params, *, count: int, per_page: int) -> Page:
    """The page asked for (`page`), 1 when missing or not a number, the last one when past the end."""
    raw = str(params.get("page") or "1")
    number = int(raw) if raw.isdigit() and len(raw) < 7 else 1
    last = max(1, -(-count // per_page))
    return Page(number=min(max(number, 1), last), per_page=per_page, count=count)
