"""What the admin's report pages by branch share: the branch a supervisor may choose (`report_branches`), and for
the yearly ones the year and branch as the request chose them with the page's common context (`YearlyReport`):
the churn and tier reports here, the complaints and satisfaction reports in service. The charts are core.ui's, the
CSVs core.exports', the filters' form `admin/retention/_report_filters.html`."""

import dataclasses
import datetime as dt

from django.contrib import messages
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.admin import report_year
from core.errors import DomainError
from customers.models import Region

from . import selectors


def report_branches(request, param: str = "region") -> tuple[list[int] | None, Region | None, list[Region]]:
    """(region ids to count, the region chosen, the branches she may choose) of a report page; an unknown or
    foreign region falls back to all her branches, with a message."""
    allowed = selectors.report_regions(request.user)
    try:
        region_ids, region = selectors.report_scope(request.user, request.GET.get(param) or None)
    except DomainError:
        messages.warning(request, _("That region is not one of yours: all your branches are shown."))
        region_ids, region = selectors.report_scope(request.user, None)
    choices = allowed if allowed is not None else list(Region.objects.order_by("province", "code"))
    return region_ids, region, choices


@dataclasses.dataclass(frozen=True)
class YearlyReport:
    """A yearly report page's filters as the request chose them: the year (core.admin.report_year), the branches
    counted (`region_ids`, None: all) and the one chosen, and the branches she may choose."""

    today: dt.date
    year: int
    region_ids: list[int] | None
    region: Region | None
    regions: list[Region]

    @classmethod
    def from_request(cls, request, *, today: dt.date | None = None) -> "YearlyReport":
        today = today or timezone.localdate()
        region_ids, region, regions = report_branches(request)
        return cls(today, report_year(request, today), region_ids, region, regions)

    def csv_name(self, prefix: str) -> str:
        """The CSV file's name: `prefix-2026.csv`, or `prefix-2026-GZ.csv` for one branch."""
        return f"{prefix}-{self.year}{'-' + self.region.code if self.region else ''}.csv"

    def context(self, model_admin, request, title, **extra) -> dict:
        """The page's context: the admin's, its title, the filters (the last five years to choose from) and the
        query of its CSV link; then `extra`."""
        return {
            **model_admin.admin_site.each_context(request),
            "opts": model_admin.opts,
            "title": title,
            "year": self.year,
            "years": list(range(self.today.year - 4, self.today.year + 1)),
            "region": self.region,
            "regions": self.regions,
            "csv_query": request.GET.copy().urlencode(),
            **extra,
        }
