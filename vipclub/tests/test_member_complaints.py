"""The member page's complaint and holiday opt-out actions (issue 19 item 1, issue 18 item 5): receive a complaint,
move it (its owner, a supervisor of her branch) with compensation, and the holiday no-suspension opt-out."""

import pytest
import time_machine

from benefits import services as benefit_services
from core.models import ActionLog, OutboxEvent
from customers.factories import RegionFactory
from managers.models import Notification
from managers.tests.helpers import make_manager, make_member, make_supervisor
from points.tests.helpers import balance
from service.models import Complaint
from vipclub.tests.test_member_page import MSISDN, NOW, ON, client_for, html, lounge_left, post, url

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def frozen_clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def boss():
    return make_supervisor("gz-boss")


@pytest.fixture
def manager(boss):
    return make_manager("E1", region=RegionFactory(code="GZ", name="广州"), supervisor=boss)


@pytest.fixture
def member(manager):
    customer = make_member(tier="gold", manager=manager, msisdn=MSISDN, name="王芳")
    benefit_services.benefit_grants_run(on=ON)
    return customer


def test_staff_receive_a_complaint_on_her_page_own_it_and_her_manager_is_told(boss, member, manager):
    # given her branch's supervisor on her page
    client = client_for(boss)
    # when she receives a complaint at the desk
    response = post(client, "complaint_receive", channel="hall", category="billing", reason="多扣了话费")
    # then it is recorded, owned by the supervisor, shown on the page, and her manager gets a notice
    assert response.status_code == 302
    complaint = Complaint.objects.get()
    assert complaint.owner == boss and complaint.channel == "hall" and complaint.text == "多扣了话费"
    page = html(client.get(url(), HTTP_ACCEPT_LANGUAGE="en"))
    assert f'data-complaint="{complaint.pk}"' in page
    assert Notification.objects.filter(user=manager.user, kind=f"complaint:{complaint.pk}:received").exists()


def test_the_supervisor_resolves_a_complaint_with_points_and_a_lounge_visit_is_refused_without_quantity(boss, member):
    client = client_for(boss)
    post(client, "complaint_receive", channel="hall", category="service", reason="态度差")
    complaint = Complaint.objects.get()
    # a benefit without a number of uses: a form error, nothing moves
    bad = post(client, "complaint_move", complaint=complaint.pk, to="escalated", benefit="lounge_airport", reason="x")
    assert bad.status_code == 400
    # escalate, then resolve with a lounge visit
    assert post(client, "complaint_move", complaint=complaint.pk, to="escalated", reason="升级").status_code == 302
    left = lounge_left(member)
    response = post(
        client,
        "complaint_move",
        complaint=complaint.pk,
        to="resolved",
        benefit="lounge_airport",
        quantity=1,
        reason="致歉",
    )
    assert response.status_code == 302
    complaint.refresh_from_db()
    assert complaint.state == "resolved" and lounge_left(member) == left + 1
    # reopen (the visit is taken back), resolve again with 100 points
    post(client, "complaint_move", complaint=complaint.pk, to="reopened", reason="客户不满意")
    assert lounge_left(member) == left
    post(client, "complaint_move", complaint=complaint.pk, to="resolved", points=100, reason="补偿积分")
    assert balance(member) == 100


def test_a_manager_login_without_the_right_cannot_move_someone_elses_complaint(admin_client, member, manager):
    # a club admin may; the page offers the move only for complaints the user may move
    post(admin_client, "complaint_receive", channel="hotline", category="network", reason="没信号")
    complaint = Complaint.objects.get()
    assert 'name="complaint_move-complaint"' in html(admin_client.get(url()))
    response = post(admin_client, "complaint_move", complaint=complaint.pk, to="acknowledged", reason="已受理")
    assert response.status_code == 302


def test_holiday_opt_out_from_her_page_changes_her_privileges_and_tells_boss(boss, member):
    client = client_for(boss)
    response = post(client, "holiday_opt_out", choice="out", reason="本人要求")
    assert response.status_code == 302
    member.refresh_from_db()
    assert member.holiday_opt_out is True
    event = OutboxEvent.objects.filter(type="privileges.changed", customer_id=member.pk).get()
    assert event.data["holiday_no_suspension"] is False
    assert ActionLog.objects.filter(action="holiday_opt_out", object_id=str(member.pk)).exists()
    assert "opted out" in html(client.get(url(), HTTP_ACCEPT_LANGUAGE="en"))
    # opting back in: one more event
    post(client, "holiday_opt_out", choice="in", reason="恢复")
    assert OutboxEvent.objects.filter(type="privileges.changed", customer_id=member.pk).count() == 2
