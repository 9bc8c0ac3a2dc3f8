"""The working-day calendar: a month view (working days, weekends, holidays, make-up days; staff overrides marked)
and the bulk import of a year's holidays and make-up days (`date,kind[,name]` lines pasted or uploaded, checked
line by line, all or nothing: managers.rules.parse_calendar_lines, managers.services.calendar_year_import), after
which the year is loaded and the "calendar not loaded" banner goes. Club admins import; other staff look."""

import datetime as dt

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core import bounds
from core.errors import DomainError
from core.permissions import is_club_admin
from managers import rules as manager_rules
from managers import selectors as manager_selectors
from managers import services as manager_services

MAX_UPLOAD_BYTES = 64 * 1024

LINE_PROBLEMS = {
    "too_few_fields": gettext_lazy("write a date and a kind separated by a comma, e.g. 2027-02-11,holiday"),
    "not_a_date": gettext_lazy("the date must be written YYYY-MM-DD and exist"),
    "other_year": gettext_lazy("the date is not in the year being imported"),
    "unknown_kind": gettext_lazy("the kind must be holiday (or off, 休) or workday (or makeup, 班)"),
    "duplicate": gettext_lazy("this date is already on an earlier line"),
    "name_too_long": gettext_lazy("the name is longer than 50 characters"),
}


def line_message(error: manager_rules.CalendarLineError) -> str:
    return _("Line %(line)s (%(text)s): %(problem)s.") % {
        "line": error.line,
        "text": error.text,
        "problem": LINE_PROBLEMS[error.problem],
    }


class CalendarImportForm(forms.Form):
    year = forms.IntegerField(label=gettext_lazy("Year"), min_value=2000, max_value=2099)
    lines = forms.CharField(
        label=gettext_lazy("Holidays and make-up days"),
        required=False,
        widget=forms.Textarea(
            attrs={"rows": 14, "cols": 48, "placeholder": "2027-01-01,holiday,元旦\n2027-02-07,workday"}
        ),
        help_text=gettext_lazy(
            "One day a line: date,kind[,name] — kind is holiday (a day off) or workday (a make-up day). "
            "Days not listed follow the week: Monday to Friday working."
        ),
    )
    upload = forms.FileField(
        label=gettext_lazy("…or upload a file"),
        required=False,
        help_text=gettext_lazy("A text or CSV file (UTF-8) with the same lines."),
    )
    replace = forms.BooleanField(
        label=gettext_lazy("The list is the whole year: remove the year's other overrides"),
        required=False,
        initial=True,
    )

    def clean(self):
        data = super().clean()
        upload = data.get("upload")
        text = data.get("lines") or ""
        if upload:
            if upload.size > MAX_UPLOAD_BYTES:
                raise forms.ValidationError(_("The file is larger than 64 KB."))
            try:
                text = upload.read().decode("utf-8-sig")
            except UnicodeDecodeError:
                raise forms.ValidationError(_("The file is not UTF-8 text.")) from None
        if not text.strip():
            raise forms.ValidationError(_("Paste the lines or upload a file."))
        if len(text.splitlines()) > manager_rules.CALENDAR_MAX_LINES:
            raise forms.ValidationError(_("At most %(n)s lines at once.") % {"n": manager_rules.CALENDAR_MAX_LINES})
        data["text"] = text
        year = data.get("year")
        if year is not None:
            days, errors = manager_rules.parse_calendar_lines(text, year=year)
            if errors:
                raise forms.ValidationError([line_message(e) for e in errors])
            if not days:
                raise forms.ValidationError(_("The lines hold no day."))
            data["days"] = days
        return data


def _month(request, today: dt.date) -> dt.date:
    raw = request.GET.get("month")
    if raw:
        try:
            return bounds.parse_month(raw)
        except bounds.BoundsError as exc:
            messages.warning(request, str(exc))
    return today.replace(day=1)


def calendar_view(request):
    if not request.user.has_perm("managers.view_workingdayoverride"):
        raise PermissionDenied
    today = timezone.localdate()
    may_import = is_club_admin(request.user)
    status = 200
    if request.method == "POST":
        if not may_import:
            raise PermissionDenied
        form = CalendarImportForm(request.POST, request.FILES)
        if form.is_valid():
            year = form.cleaned_data["year"]
            try:
                manager_services.calendar_year_import(
                    year=year,
                    days=form.cleaned_data["days"],
                    replace=form.cleaned_data["replace"],
                    actor=request.user,
                    at=timezone.now(),
                )
            except DomainError as exc:
                form.add_error(None, exc.message)
            else:
                days = form.cleaned_data["days"]
                messages.success(
                    request,
                    _("The %(year)s calendar is loaded: %(off)s days off and %(working)s make-up days.")
                    % {
                        "year": year,
                        "off": sum(not d.is_working for d in days),
                        "working": sum(d.is_working for d in days),
                    },
                )
                query = urlencode({"month": f"{days[0].date:%Y-%m}"})
                return HttpResponseRedirect(f"{reverse('admin-staff-calendar')}?{query}")
        status = 400
        month = today.replace(day=1)
        if form.data.get("year", "").isdigit() and 2000 <= int(form.data["year"]) <= 2099:
            month = dt.date(int(form.data["year"]), 1, 1)
    else:
        month = _month(request, today)
        form = CalendarImportForm(initial={"year": month.year if month.year > today.year else today.year + 1})
    state = manager_selectors.calendar_state(year=month.year)
    previous = (month - dt.timedelta(days=1)).replace(day=1)
    following = (month + dt.timedelta(days=32)).replace(day=1)
    context = {
        **admin.site.each_context(request),
        "title": _("Working-day calendar"),
        "month": month,
        "weeks": manager_selectors.calendar_month(month=month),
        "state": state,
        "previous": f"{previous:%Y-%m}",
        "following": f"{following:%Y-%m}",
        "form": form if may_import else None,
        "may_import": may_import,
        "overrides_url": f"{reverse('admin:managers_workingdayoverride_changelist')}?date__year={month.year}",
        "weekdays": [_("Mon"), _("Tue"), _("Wed"), _("Thu"), _("Fri"), _("Sat"), _("Sun")],
    }
    return TemplateResponse(request, "admin/staff/calendar.html", context, status=status)
