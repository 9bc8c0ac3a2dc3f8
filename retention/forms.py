from django import forms
from django.utils.translation import gettext_lazy as _

from core.forms import BoundedDateFormField

from .models import CaseState


class CasesMoveForm(forms.Form):
    """The admin's "move the selected cases" form (the offer and the visit date only for the moves that need them)."""

    to = forms.ChoiceField(choices=CaseState.choices, label=_("Move to"))
    offer = forms.ModelChoiceField(queryset=None, required=False, to_field_name="code", label=_("Offer"))
    visit_on = BoundedDateFormField(required=False, label=_("Home visit on"))
    note = forms.CharField(max_length=2000, required=False, label=_("Note"), widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args, **kwargs):
        from .models import RetentionOffer

        super().__init__(*args, **kwargs)
        self.fields["offer"].queryset = RetentionOffer.objects.filter(active=True)
