"""Satisfaction through the API (API.md): `POST /survey-responses/` (the SMS platform's answers, or a person's) and
`GET /reports/satisfaction/?year=`. Role AND branch: core.permissions.RoleOrScope (API clients by scope:
`events:write` to write, `read` to read; people: supervisors and account managers answer, supervisors read the
report), managers.selectors.scoped_customer for the member (another branch's member is a 404)."""

from django.urls import path
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import idempotent
from core.errors import InvalidInput
from core.fields import BoundedDateTimeField, InputSerializer, IntegerField
from core.permissions import PEOPLE, SUPERVISOR, RoleOrScope, is_api_client
from core.schema import ERROR
from customers.serializers import MsisdnField
from managers import selectors as manager_selectors
from retention import selectors as retention_selectors

from . import survey_selectors, surveys
from .survey_models import AnswerChannel, Survey


class SurveyResponseSerializer(InputSerializer):
    msisdn = MsisdnField()
    survey = serializers.CharField(max_length=30, help_text="the survey's code (or id)")
    score = IntegerField(min_value=1, max_value=5)
    comment = serializers.CharField(max_length=1000, required=False, allow_blank=True, allow_null=True, default="")
    answered_at = BoundedDateTimeField(past=True, help_text="when the member answered; not in the future")


class SatisfactionQuerySerializer(InputSerializer):
    year = IntegerField(min_value=2000, max_value=2099, required=False, help_text="default: this year")
    region = serializers.CharField(max_length=20, required=False, allow_blank=True, default="")


def _survey(value: str) -> Survey:
    survey = Survey.objects.filter(code=value).first()
    if survey is None and value.isdigit():
        survey = Survey.objects.filter(pk=int(value)).first()
    if survey is None:
        codes = ", ".join(Survey.objects.order_by("code").values_list("code", flat=True))
        raise InvalidInput(f"Unknown survey {value!r}.", fields={"survey": [f"unknown survey; one of {codes}"]})
    return survey


class SurveyResponseApi(APIView):
    permission_classes = [RoleOrScope]
    scopes = {"POST": "events:write"}
    roles = {"POST": PEOPLE}

    @extend_schema(
        summary="Record a member's survey answer",
        tags=["satisfaction"],
        request=SurveyResponseSerializer,
        responses={
            201: inline_serializer(
                "SurveyResponseAnswer",
                {
                    "id": serializers.IntegerField(),
                    "msisdn": serializers.CharField(),
                    "survey": serializers.CharField(),
                    "trigger": serializers.CharField(),
                    "reference": serializers.CharField(),
                    "score": serializers.IntegerField(),
                    "answered_at": serializers.DateTimeField(),
                },
            ),
            400: ERROR,
            403: ERROR,
            404: ERROR,
            409: ERROR,
        },
        description="The answer (1–5) to the latest unanswered survey of that kind sent to the member. 409 "
        "`not_surveyed` when no such survey was sent to her, `already_answered` when every one was answered. "
        "Send an `Idempotency-Key`: a replay returns the first answer.",
    )
    @idempotent
    def post(self, request):
        serializer = SurveyResponseSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        survey = _survey(data["survey"])
        customer = manager_selectors.scoped_customer(msisdn=data["msisdn"], user=request.user)
        answer = surveys.survey_answer(
            customer=customer,
            survey=survey,
            score=data["score"],
            comment=data["comment"] or "",
            answered_at=data["answered_at"],
            channel=AnswerChannel.SMS if is_api_client(request.user) else AnswerChannel.MANAGER,
            actor=request.user,
        )
        return Response(
            {
                "id": answer.pk,
                "msisdn": customer.msisdn,
                "survey": survey.code,
                "trigger": answer.send.trigger,
                "reference": answer.send.reference,
                "score": answer.score,
                "answered_at": timezone.localtime(answer.answered_at).isoformat(),
            },
            status=status.HTTP_201_CREATED,
        )


def _figures(row: dict) -> dict:
    return {
        "answers": row["answers"],
        "mean": None if row["mean"] is None else str(row["mean"]),
        "satisfied_share": None if row["satisfied_share"] is None else str(row["satisfied_share"]),
    }


class SatisfactionReportApi(APIView):
    permission_classes = [RoleOrScope]
    roles = {"GET": (SUPERVISOR,)}

    @extend_schema(
        summary="Satisfaction per quarter, branch, manager and tier",
        tags=["reports"],
        parameters=[
            OpenApiParameter("year", int, description="YYYY (default: this year)"),
            OpenApiParameter("region", str, description="region code (default: all your branches)"),
        ],
        responses={200: inline_serializer("SatisfactionReport", {"year": serializers.IntegerField()}), 400: ERROR},
        description="Mean score (1–5) and share of 4–5 answers (%) per quarter (with last year's), per quarter and "
        "branch, per branch, account manager and tier, the year's totals against its target and last year.",
    )
    def get(self, request):
        query = SatisfactionQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        year = query.validated_data.get("year") or timezone.localdate().year
        region_ids, region = retention_selectors.report_scope(request.user, query.validated_data["region"])
        report = survey_selectors.satisfaction_report(year=year, region_ids=region_ids)
        target = report["target"]
        return Response(
            {
                "year": year,
                "region": region.code if region else None,
                "target": {"mean": str(target.mean_score), "satisfied_share": str(target.satisfied_share)}
                if target
                else None,
                "totals": {**_figures(report["totals"]), "last_year": _figures(report["totals"]["last_year"])},
                "quarters": [
                    {"quarter": q["quarter"], "sent": q["sent"], **_figures(q), "last_year": _figures(q["last_year"])}
                    for q in report["quarters"]
                ],
                "results": [
                    {"quarter": row["quarter"], "region": row["region"].code, **_figures(row)} for row in report["rows"]
                ],
                "regions": [
                    {"region": row["region"].code, **_figures(row), "last_year": _figures(row["last_year"])}
                    for row in report["regions"]
                ],
                "managers": [
                    {"manager": row["manager"].employee_no if row["manager"] else None, **_figures(row)}
                    for row in report["managers"]
                ],
                "tiers": [
                    {
                        "tier": row["tier"].code if row["tier"] else None,
                        **_figures(row),
                        "last_year": _figures(row["last_year"]),
                    }
                    for row in report["tiers"]
                ],
            }
        )


urlpatterns = [
    path("survey-responses/", SurveyResponseApi.as_view(), name="api-survey-responses"),
    path("reports/satisfaction/", SatisfactionReportApi.as_view(), name="api-report-satisfaction"),
]
