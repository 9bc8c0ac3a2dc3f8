"""The manager enters a member's satisfaction answer from the customer page (DOMAIN §9)."""

import datetime as dt

import pytest
from django.test import Client

from managers.tests.helpers import make_manager, make_member, make_supervisor
from service.factories import club_time, receive, walk
from service.models import SurveyResponse

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(("language", "heading"), [("en", "Satisfaction survey"), ("zh-hans", "满意度调查")])
def test_the_manager_enters_the_answer_from_the_customer_page(language, heading):
    # given a member surveyed after her resolved complaint, and her manager on the desk
    boss = make_supervisor("boss-gz")
    manager = make_manager("AM1", supervisor=boss)
    member = make_member(manager=manager, msisdn="13900000001")
    day = dt.date(2026, 11, 16)
    walk(receive(member, at=club_time(day), by=manager.user), "resolved", at=club_time(day), actor=manager.user)
    client = Client(HTTP_ACCEPT_LANGUAGE=language)
    client.force_login(manager.user)
    # when she opens the customer page, then the survey waits for an answer with the form
    page = client.get("/dashboard/customers/13900000001/").content.decode()
    assert heading in page and 'id="survey"' in page and "/dashboard/customers/13900000001/survey/" in page
    # when she enters a score the member gave on the phone
    response = client.post("/dashboard/customers/13900000001/survey/", {"score": "4", "comment": "还不错"})
    # then it is recorded as entered by her, and the panel is gone
    assert response.status_code == 302 and response["Location"].endswith("#survey")
    answer = SurveyResponse.objects.get()
    assert (answer.score, answer.channel, answer.entered_by, answer.comment) == (4, "manager", manager.user, "还不错")
    assert 'id="survey"' not in client.get("/dashboard/customers/13900000001/").content.decode()
    # and a second answer is refused with a message, a bad score too
    client.post("/dashboard/customers/13900000001/survey/", {"score": "4"})
    client.post("/dashboard/customers/13900000001/survey/", {"score": "9"})
    assert SurveyResponse.objects.count() == 1
    # and her supervisor sees no form, another manager gets a 404
    other = make_manager("AM2", supervisor=boss)
    client.force_login(other.user)
    assert client.post("/dashboard/customers/13900000001/survey/", {"score": "5"}).status_code == 404
