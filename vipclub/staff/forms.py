"""The member page's action forms: each asks for a reason; the view passes the cleaned data to one service."""

from django import forms
from django.utils.translation import gettext_lazy as _

from core.forms import BoundedDateFormField
from managers.models import DeliveryMode
from retention.models import CaseState, ReasonCategory
from service.models import ComplaintCategory, ComplaintChannel

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def reason_field(label=None):
    return forms.CharField(
        label=label or _("Reason"),
        max_length=200,
        widget=forms.TextInput(attrs={"size": 40, "placeholder": _("why (kept with your name)")}),
        error_messages={"required": _("Give a reason: it is kept in the audit trail with your name.")},
    )


class ActionForm(forms.Form):
    """Every action's form knows its key (the posted `action`) and asks for a reason."""

    key = ""
    reason = reason_field()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.order_fields([name for name in self.fields if name != "reason"] + ["reason"])


class RedeemBenefitForm(ActionForm):
    key = "redeem_benefit"
    benefit = forms.ChoiceField(label=_("Benefit"))
    quantity = forms.IntegerField(label=_("Uses"), min_value=1, max_value=100, initial=1)
    reason = reason_field(_("Reason / desk reference"))

    def __init__(self, *args, benefits=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["benefit"].choices = list(benefits)


class AdjustPointsForm(ActionForm):
    key = "adjust_points"
    points = forms.IntegerField(
        label=_("Points (+ credit, − debit)"), min_value=-10_000_000, max_value=10_000_000, widget=forms.NumberInput
    )

    def clean_points(self):
        points = self.cleaned_data["points"]
        if points == 0:
            raise forms.ValidationError(_("Enter a number of points other than 0."))
        return points


class RedeemPointsForm(ActionForm):
    key = "redeem_points"
    points = forms.IntegerField(label=_("Points"), min_value=1, max_value=10_000_000)


class TransferPointsForm(ActionForm):
    key = "transfer_points"
    target = forms.CharField(label=_("To msisdn"), max_length=20)
    points = forms.IntegerField(label=_("Points"), min_value=1, max_value=10_000_000)


class OverrideForm(ActionForm):
    key = "override"
    tier = forms.ChoiceField(label=_("Tier"))
    starts_on = BoundedDateFormField(label=_("Starts on"), widget=DATE)
    ends_on = BoundedDateFormField(label=_("Ends on"), widget=DATE)

    def __init__(self, *args, tiers=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["tier"].choices = list(tiers)

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("starts_on") and cleaned.get("ends_on") and cleaned["ends_on"] < cleaned["starts_on"]:
            self.add_error("ends_on", _("The end date is before the start date."))
        return cleaned


class ClosureForm(ActionForm):
    key = "closure"
    reason_category = forms.ChoiceField(label=_("Reason category"), choices=ReasonCategory.choices)


class CaseMoveForm(ActionForm):
    key = "case_move"
    to = forms.ChoiceField(label=_("Move to"), choices=CaseState.choices)
    offer = forms.ChoiceField(label=_("Offer"), required=False)
    visit_on = BoundedDateFormField(label=_("Home visit on"), required=False, widget=DATE)
    reason = reason_field(_("Note"))

    def __init__(self, *args, offers=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["offer"].choices = [("", "—"), *offers]


class ReassignForm(ActionForm):
    key = "reassign"
    manager = forms.ChoiceField(label=_("New account manager"))

    def __init__(self, *args, managers=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["manager"].choices = list(managers)


CARD_ACTIONS = [
    ("start", _("Start a card")),
    ("reissue", _("Re-issue a card")),
    ("collect", _("Data collected")),
    ("send_to_maker", _("Sent to the card maker")),
    ("arrive", _("Arrived")),
    ("deliver", _("Delivered / handed over")),
    ("receive", _("Received by the member")),
]


class CardForm(ActionForm):
    key = "card"
    step = forms.ChoiceField(label=_("Step"), choices=CARD_ACTIONS)
    delivery_mode = forms.ChoiceField(label=_("Delivery"), choices=[("", "—"), *DeliveryMode.choices], required=False)
    address = forms.CharField(label=_("Address"), max_length=200, required=False)
    agreed_date = BoundedDateFormField(label=_("Agreed delivery date"), required=False, widget=DATE)


class ComplaintReceiveForm(ActionForm):
    """Receive a complaint at the desk: whoever records it owns it (首问负责制); the reason field is its text."""

    key = "complaint_receive"
    channel = forms.ChoiceField(label=_("Channel"), choices=ComplaintChannel.choices, initial=ComplaintChannel.HALL)
    category = forms.ChoiceField(label=_("Category"), choices=ComplaintCategory.choices)
    reason = forms.CharField(
        label=_("What she complains about"), max_length=2000, widget=forms.Textarea(attrs={"rows": 3, "cols": 40})
    )


class ComplaintMoveForm(ActionForm):
    """Move one of her complaints (its owner, a supervisor of her branch, a club admin); resolving may grant
    compensation: points, or uses of a benefit."""

    key = "complaint_move"
    complaint = forms.ChoiceField(label=_("Complaint"))
    to = forms.ChoiceField(label=_("Move to"))
    points = forms.IntegerField(label=_("Compensation (points)"), min_value=1, max_value=100_000, required=False)
    benefit = forms.ChoiceField(label=_("or a benefit use"), required=False)
    quantity = forms.IntegerField(label=_("Uses"), min_value=1, max_value=100, required=False)
    reason = reason_field(_("Note"))

    def __init__(self, *args, complaints=(), states=(), benefits=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["complaint"].choices = list(complaints)
        self.fields["to"].choices = list(states)
        self.fields["benefit"].choices = [("", "—"), *benefits]

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("points") and cleaned.get("benefit"):
            raise forms.ValidationError(_("Compensate with points or with a benefit, not both."))
        if cleaned.get("benefit") and not cleaned.get("quantity"):
            self.add_error("quantity", _("How many uses of the benefit?"))
        return cleaned

    def compensation(self) -> dict | None:
        data = self.cleaned_data
        if data.get("points"):
            return {"points": data["points"]}
        if data.get("benefit"):
            return {"benefit": data["benefit"], "quantity": data["quantity"]}
        return None


class HolidayOptOutForm(ActionForm):
    """The holiday no-suspension (节假日免停机): she opts out of it, or back in."""

    key = "holiday_opt_out"
    choice = forms.ChoiceField(
        label=_("Holiday no-suspension"),
        choices=[("out", _("She opts out (may be suspended on holidays)")), ("in", _("She opts back in"))],
    )


class DecisionForm(forms.Form):
    """The approvals inbox: approve or refuse one request, with a reason (required to refuse)."""

    decision = forms.ChoiceField(choices=[("approve", _("Approve")), ("refuse", _("Refuse"))])
    note = forms.CharField(label=_("Reason"), max_length=200, required=False)

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("decision") == "refuse" and not (cleaned.get("note") or "").strip():
            self.add_error("note", _("Give a reason for refusing."))
        return cleaned
