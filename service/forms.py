from django import forms
from django.utils.translation import gettext_lazy as _

from core.forms import BoundedDateFormField, BoundedDateTimeFormField

from .models import ComplaintCategory, ComplaintChannel, ComplaintState


class ComplaintReceiveForm(forms.Form):
    """The admin's "receive a complaint" form: the customer by her number; the owner is whoever records it."""

    msisdn = forms.RegexField(regex=r"^1[0-9]{10}$", label=_("Customer's number"), max_length=11)
    channel = forms.ChoiceField(choices=ComplaintChannel.choices, label=_("Channel"))
    category = forms.ChoiceField(choices=ComplaintCategory.choices, label=_("Category"))
    text = forms.CharField(max_length=4000, label=_("Complaint"), widget=forms.Textarea(attrs={"rows": 4}))
    received_at = BoundedDateTimeFormField(required=False, label=_("Received at"), help_text=_("default: now"))


class ComplaintMoveForm(forms.Form):
    """Move a complaint (the change page and the list's actions); compensation only when resolving."""

    to = forms.ChoiceField(choices=ComplaintState.choices, label=_("Move to"))
    note = forms.CharField(max_length=2000, required=False, label=_("Note"), widget=forms.Textarea(attrs={"rows": 3}))
    compensation_points = forms.IntegerField(
        min_value=1, max_value=100_000, required=False, label=_("Compensation (points)"), help_text=_("when resolved")
    )


class ComplaintHandoverForm(forms.Form):
    owner = forms.CharField(max_length=150, label=_("New owner (login)"))
    note = forms.CharField(max_length=2000, label=_("Note"), widget=forms.Textarea(attrs={"rows": 3}))


class GiftOrderMoveForm(forms.Form):
    to = forms.ChoiceField(choices=(), label=_("Move to"))
    note = forms.CharField(max_length=2000, required=False, label=_("Note"), widget=forms.Textarea(attrs={"rows": 2}))


class GiftVoucherExtendForm(forms.Form):
    until = BoundedDateFormField(label=_("Valid until"), widget=forms.DateInput(attrs={"type": "date"}))
    reason = forms.CharField(max_length=2000, label=_("Reason"), widget=forms.Textarea(attrs={"rows": 2}))
