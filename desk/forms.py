"""Forms of the account managers' and supervisors' pages: they validate input, the services do the writing."""

import datetime as dt

from django import forms
from django.utils.translation import gettext_lazy as _

from core.forms import BoundedDateFormField, IntegerFormField
from customers.models import Status
from managers.models import Channel, DeliveryMode, Outcome, ServicePlan
from retention.models import CaseState

# The quick buttons of an obligation row: (value, label, icon). The value is "channel:outcome". An SMS that was sent
# but not answered is logged as (sms, no_answer): it closes what an SMS closes (first contact, routine SMS,
# greetings, pickup reminders), not what needs the member reached (periodic contact: "a reply that reached").
QUICK_RESULTS = [
    ("call:reached", _("Reached"), "phone"),
    ("call:no_answer", _("No answer"), "phone-missed"),
    ("sms:no_answer", _("SMS sent"), "message"),
]


class ContactForm(forms.Form):
    """A contact with a member: either a quick button (`result` = "channel:outcome") or channel + outcome."""

    result = forms.ChoiceField(choices=[(value, label) for value, label, _icon in QUICK_RESULTS], required=False)
    channel = forms.ChoiceField(label=_("Channel"), choices=Channel.choices, required=False)
    outcome = forms.ChoiceField(label=_("Outcome"), choices=Outcome.choices, required=False)
    note = forms.CharField(label=_("Note"), max_length=500, required=False)

    def clean(self):
        data = super().clean()
        if data.get("result"):
            data["channel"], data["outcome"] = data["result"].split(":")
        if not (data.get("channel") and data.get("outcome")):
            raise forms.ValidationError(_("Choose how you contacted the member and the outcome."))
        return data


class CustomerFilterForm(forms.Form):
    q = forms.CharField(label=_("Search"), required=False, max_length=50)
    tier = forms.ChoiceField(label=_("Tier"), required=False)
    status = forms.ChoiceField(label=_("Status"), required=False, choices=[("", _("All statuses")), *Status.choices])

    def __init__(self, *args, tiers=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["tier"].choices = [("", _("All tiers")), *tiers]
        self.fields["q"].widget.attrs.update(
            {"placeholder": _("Number prefix or name"), "inputmode": "search", "autocomplete": "off"}
        )


class BirthdayGiftForm(forms.Form):
    obligation = IntegerFormField(widget=forms.HiddenInput)
    choice = forms.CharField(label=_("Gift chosen"), max_length=60)
    time_note = forms.CharField(label=_("Delivery time"), max_length=60)
    address = forms.CharField(label=_("Address"), max_length=120)


class CardForm(forms.Form):
    """One step of a membership card; which fields count depends on the action."""

    ACTIONS = ["start", "reissue", "collect", "send_to_maker", "arrive", "deliver", "receive"]

    action = forms.ChoiceField(choices=[(a, a) for a in ACTIONS])
    card_name = forms.CharField(label=_("Name on the card"), max_length=50, required=False)
    landline = forms.CharField(label=_("Landline"), max_length=20, required=False)
    birthday = BoundedDateFormField(
        past=True,
        label=_("Birthday"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    address = forms.CharField(label=_("Address"), max_length=200, required=False)
    delivery_mode = forms.ChoiceField(label=_("Delivery"), choices=[("", "—"), *DeliveryMode.choices], required=False)
    agreed_date = BoundedDateFormField(
        label=_("Agreed delivery date"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )


def period_start_of(scope: str, day: dt.date) -> dt.date:
    """The first day of the year, month or (ISO) week containing `day`."""
    if scope == ServicePlan.Scope.YEAR:
        return day.replace(month=1, day=1)
    if scope == ServicePlan.Scope.MONTH:
        return day.replace(day=1)
    return day - dt.timedelta(days=day.weekday())


class ServicePlanForm(forms.Form):
    scope = forms.ChoiceField(label=_("Plan for"), choices=ServicePlan.Scope.choices)
    period = BoundedDateFormField(
        label=_("Period"),
        help_text=_("any day of the year, month or week"),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    content = forms.CharField(label=_("Plan"), widget=forms.Textarea(attrs={"rows": 5}), max_length=5000)

    def clean(self):
        data = super().clean()
        if data.get("scope") and data.get("period"):
            data["period_start"] = period_start_of(data["scope"], data["period"])
        return data


class WorkLogForm(forms.Form):
    date = BoundedDateFormField(label=_("Date"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    content = forms.CharField(label=_("Work done"), widget=forms.Textarea(attrs={"rows": 4}), max_length=5000)


class ReviewForm(forms.Form):
    comment = forms.CharField(label=_("Comment"), required=False, max_length=1000, widget=forms.TextInput)
    decision = forms.ChoiceField(
        choices=[("approve", _("Approve")), ("return", _("Return")), ("reviewed", _("Mark reviewed"))]
    )

    def clean(self):
        data = super().clean()
        if data.get("decision") == "return" and not data.get("comment", "").strip():
            self.add_error("comment", _("Say what should change when you return a plan."))
        return data


class CaseMoveForm(forms.Form):
    """A quick move of a retention case on the dashboard (the offer and the visit date only for the moves that need
    them)."""

    to = forms.ChoiceField(choices=CaseState.choices)
    offer = forms.SlugField(max_length=40, required=False)
    visit_on = BoundedDateFormField(required=False, label=_("Home visit on"))
    note = forms.CharField(max_length=2000, required=False)


# The one-tap outcomes of a work-queue item: (value "channel:outcome", label, icon). A WeChat message or a visit that
# reached the member closes what a reached contact closes; an SMS sent, what an SMS closes.
QUEUE_RESULTS = [
    ("call:reached", _("Reached"), "phone"),
    ("call:no_answer", _("No answer"), "phone-missed"),
    ("call:powered_off", _("Powered off"), "phone-off"),
    ("sms:no_answer", _("SMS sent"), "message"),
    ("wechat:reached", _("WeChat"), "wechat"),
    ("visit:reached", _("Visit"), "home"),
]


class QueueContactForm(forms.Form):
    """A one-tap outcome of the work queue (`result` = "channel:outcome") with an optional note."""

    result = forms.ChoiceField(label=_("Outcome"), choices=[(value, label) for value, label, _icon in QUEUE_RESULTS])
    note = forms.CharField(label=_("Note"), max_length=500, required=False)

    def clean(self):
        data = super().clean()
        if data.get("result"):
            data["channel"], data["outcome"] = data["result"].split(":")
        return data


class QueueFilterForm(forms.Form):
    """The work queue's filters: an obligation kind and a tier (or "none": not a member)."""

    kind = forms.ChoiceField(label=_("Kind"), required=False)
    tier = forms.ChoiceField(label=_("Tier"), required=False)

    def __init__(self, *args, kinds=(), tiers=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = [("", _("All kinds")), *kinds]
        self.fields["tier"].choices = [("", _("All tiers")), *tiers]
