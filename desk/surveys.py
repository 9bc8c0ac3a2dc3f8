"""The manager enters a member's satisfaction answer from the desk's customer page (DOMAIN §9: the answer comes back
from the SMS platform or the manager enters it, e.g. after a call): the form (rendered by the `survey_answer` tag of
desk_surveys on the customer page) and its POST view. Only her own member's; the write is service.surveys."""

from django import forms
from django.contrib import messages
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from core import ui
from core.errors import DomainError
from managers.models import AccountManager
from service import surveys
from service.survey_models import AnswerChannel

from .views import manager_required, own_customer

SCORES = [(n, str(n)) for n in range(5, 0, -1)]


class SurveyAnswerForm(forms.Form):
    score = forms.TypedChoiceField(
        label=_("Score (5 = very satisfied)"), choices=SCORES, coerce=int, widget=forms.RadioSelect
    )
    comment = forms.CharField(
        label=_("What she said"), max_length=1000, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )


ANSWER_TEXTS = {
    "not_surveyed": _("No survey was sent to this member."),
    "already_answered": _("Every survey sent to this member was answered."),
}


@require_POST
@manager_required
def survey_answer(request, msisdn: str, *, manager: AccountManager):
    customer = own_customer(msisdn, request.user, manager)
    back = reverse("managers:customer", args=[customer.msisdn]) + "#survey"
    form = SurveyAnswerForm(request.POST)
    if not form.is_valid():
        messages.error(request, gettext("Please choose a score from 1 to 5."))
        return redirect(back)
    try:
        surveys.survey_answer(
            customer=customer,
            score=form.cleaned_data["score"],
            comment=form.cleaned_data["comment"],
            answered_at=timezone.now(),
            channel=AnswerChannel.MANAGER,
            actor=request.user,
        )
    except DomainError as exc:
        messages.error(request, ui.domain_message(exc, ANSWER_TEXTS))
        return redirect(back)
    messages.success(request, gettext("The answer was recorded."))
    return redirect(back)
