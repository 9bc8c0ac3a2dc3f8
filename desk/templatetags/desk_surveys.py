"""The customer page's satisfaction panel: the survey waiting for her answer and, for her own manager, the form to
enter it (desk.surveys). One query; nothing shown when no survey waits."""

from django import template

from service import surveys

register = template.Library()


@register.inclusion_tag("managers/_survey_answer.html", takes_context=True)
def survey_answer(context):
    from desk.surveys import SurveyAnswerForm

    customer = context["customer"]
    send = surveys.pending_send(customer=customer)
    return {
        "customer": customer,
        "send": send,
        "editable": context.get("editable"),
        "form": SurveyAnswerForm() if send is not None and context.get("editable") else None,
        "csrf_token": context.get("csrf_token"),
    }
