"""Complaints on the desk (issue 19 item 1): a manager logs one from her customer's page and sees her members' open
complaints with deadlines; the member's manager is told when someone else received it; a supervisor sees her
branches' late and escalated ones on her team page and resolves them with compensation."""

import datetime as dt

import pytest
from django.utils import timezone

from benefits.models import BenefitAccount
from managers.models import Notification
from managers.tests.helpers import make_manager, make_member, make_supervisor
from points.tests.helpers import balance
from service import services
from service.factories import receive
from service.models import Complaint

pytestmark = pytest.mark.django_db


@pytest.fixture
def branch():
    boss = make_supervisor("boss-gz")
    manager = make_manager("AM1", supervisor=boss)
    member = make_member(tier="gold", manager=manager, msisdn="13900000001", name="王芳")
    return boss, manager, member


def html_of(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def section(html: str, section_id: str) -> str:
    start = html.index(f'id="{section_id}"')
    return html[start : html.index("</section>", start)]


def test_a_manager_logs_a_complaint_from_her_customers_page_and_owns_it(client, branch):
    # given a manager on her member's page
    _boss, manager, member = branch
    client.force_login(manager.user)
    page = html_of(client.get(f"/dashboard/customers/{member.msisdn}/", HTTP_ACCEPT_LANGUAGE="en"))
    assert "Log a complaint" in section(page, "complaints")
    # when she logs a complaint
    response = client.post(
        f"/dashboard/customers/{member.msisdn}/complaint/",
        {"complaint-channel": "manager", "complaint-category": "network", "complaint-text": "家里信号差"},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    # then it is recorded, owned by her, and on the page with its deadline
    assert response.status_code == 302 and response["Location"].endswith("#complaints")
    complaint = Complaint.objects.get()
    assert complaint.owner == manager.user and complaint.channel == "manager"
    panel = section(html_of(client.get(response["Location"], HTTP_ACCEPT_LANGUAGE="en")), "complaints")
    assert f"#{complaint.pk}" in panel and "acknowledge by" in panel and "家里信号差" in panel
    # and on her complaints page; she receives no notice of her own complaint
    listing = html_of(client.get("/dashboard/complaints/", HTTP_ACCEPT_LANGUAGE="en"))
    assert f'data-complaint="{complaint.pk}"' in listing
    assert not Notification.objects.filter(user=manager.user, kind__startswith="complaint:").exists()


def test_an_empty_complaint_is_refused_and_another_managers_member_is_not_found(client, branch):
    _boss, manager, member = branch
    other = make_manager("AM2")
    client.force_login(other.user)
    url = f"/dashboard/customers/{member.msisdn}/complaint/"
    assert client.post(url, {"complaint-category": "network", "complaint-text": "x"}).status_code == 404
    client.force_login(manager.user)
    client.post(url, {"complaint-channel": "manager", "complaint-category": "network", "complaint-text": " "})
    assert not Complaint.objects.exists()


def test_the_members_manager_is_told_when_the_hotline_receives_her_complaint(client, branch):
    # given the hotline receives a complaint of her member
    _boss, manager, member = branch
    complaint = receive(member, at=timezone.now(), channel="hotline")
    # then a "complaint received" notice is in her inbox, leading to the complaint on her desk
    notice = Notification.objects.get(user=manager.user)
    assert f"#{complaint.pk}" in notice.text and notice.link == f"/dashboard/complaints/{complaint.pk}/"
    client.force_login(manager.user)
    assert f"#{complaint.pk}" in html_of(client.get(notice.link))


def test_the_supervisor_sees_a_late_complaint_on_her_team_page_and_resolves_it_with_points(client, branch):
    # given a complaint received 3 hours ago, not acknowledged, escalated by the job
    boss, manager, member = branch
    now = timezone.now()
    complaint = receive(member, at=now - dt.timedelta(hours=3), by=manager.user)
    assert services.complaints_escalate_late(at=now)["escalated"] == 1
    # when her supervisor opens her team page
    client.force_login(boss)
    team = section(html_of(client.get("/dashboard/team/", HTTP_ACCEPT_LANGUAGE="en")), "team-complaints")
    # then the complaint is there, escalated and late to acknowledge
    assert f'data-complaint="{complaint.pk}"' in team and "late to acknowledge" in team
    # when she resolves it with 200 points of compensation
    url = f"/dashboard/complaints/{complaint.pk}/"
    response = client.post(url, {"to": "resolved", "note": "已致歉", "points": "200"}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 302
    # then it is resolved, the points are on the member's balance, and it left the team page
    complaint.refresh_from_db()
    assert complaint.state == "resolved" and complaint.compensation_points == 200
    assert balance(member) == 200
    team = section(html_of(client.get("/dashboard/team/", HTTP_ACCEPT_LANGUAGE="en")), "team-complaints")
    assert f'data-complaint="{complaint.pk}"' not in team


def test_a_benefit_use_as_compensation_from_the_complaint_page(client, branch):
    _boss, manager, member = branch
    complaint = receive(member, at=timezone.now() - dt.timedelta(hours=1), by=manager.user)
    client.force_login(manager.user)
    url = f"/dashboard/complaints/{complaint.pk}/"
    # a step that does not fit: 400 with the page's message
    bad = client.post(url, {"to": "resolved", "points": "5"}, HTTP_ACCEPT_LANGUAGE="en")
    assert bad.status_code == 400
    client.post(url, {"to": "escalated"})
    page = html_of(client.get(url, HTTP_ACCEPT_LANGUAGE="en"))
    assert 'name="benefit"' in page and "lounge_airport" in page
    response = client.post(url, {"to": "resolved", "benefit": "lounge_airport", "quantity": "1"})
    assert response.status_code == 302
    account = BenefitAccount.objects.get(customer=member, benefit__code="lounge_airport")
    assert account.extra == 1 and account.granted == 7


def test_desk_pages_are_for_managers_and_supervisors_only(client, branch, django_user_model):
    _boss, manager, member = branch
    complaint = receive(member, at=timezone.now(), by=manager.user)
    client.force_login(django_user_model.objects.create_user("nobody"))
    assert client.get("/dashboard/complaints/").status_code == 403
    assert client.get(f"/dashboard/complaints/{complaint.pk}/").status_code == 403
    client.force_login(make_manager("AM9").user)
    assert client.get(f"/dashboard/complaints/{complaint.pk}/").status_code == 404


def test_the_complaint_in_her_queue_opens_the_complaint(client, branch):
    # given the hotline received a complaint of her member: it is in her queue, due today
    _boss, manager, member = branch
    complaint = receive(member, at=timezone.now(), channel="hotline")
    client.force_login(manager.user)
    html = client.get("/dashboard/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    item = html[html.index('data-kind="complaint"') :]
    item = item[: item.index("</li>")]
    # then its button opens the complaint on the desk (not the member's card)
    assert f'href="/dashboard/complaints/{complaint.pk}/"' in item and "Open the complaint" in item
    assert "Open the card" not in item
