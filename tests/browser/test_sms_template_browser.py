"""Staff edit a member SMS template in the admin and preview it for the sample member before saving (htmx)."""

import pytest

from partners.models import SmsTemplate

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.filterwarnings("ignore:Session-scoped fixtures defined as instance methods"),
]

expect = pytest.importorskip("playwright.sync_api").expect
PASSWORD = "Browser-pass-1"


def test_staff_preview_an_edited_sms_template_and_a_misspelt_placeholder_is_named(
    live_server, page, artifacts, django_user_model
):
    # given a club admin on the zh-hans "tier expiring" template
    django_user_model.objects.create_superuser("sms-admin", password=PASSWORD)
    template = SmsTemplate.objects.get(kind="tier_expiring", language="zh-hans")
    page.goto(f"{live_server.url}/admin/login/?next=/admin/partners/smstemplate/{template.pk}/change/")
    page.fill("input[name=username]", "sms-admin")
    page.fill("input[name=password]", PASSWORD)
    page.click("#login-form [type=submit]")
    # the saved text for the sample member
    expect(page.locator("#sms-preview")).to_contain_text("王芳")
    # when she types a misspelt placeholder and asks for a preview, then it is named
    page.fill("textarea[name=body]", "{name}您好，保级还差{neded}元")
    page.click("button:has-text('Preview')")
    expect(page.locator("#sms-live-preview")).to_contain_text("Unknown placeholder {neded}")
    # when she corrects it, then she sees the text filled in, and nothing was saved
    page.fill("textarea[name=body]", "{name}您好，您的{tier}保级还差{needed}元")
    page.click("button:has-text('Preview')")
    expect(page.locator("#sms-live-preview")).to_contain_text("王芳您好，您的金卡保级还差350.00元")
    page.screenshot(path=str(artifacts / "sms-template-preview.png"), full_page=True)
    assert SmsTemplate.objects.get(pk=template.pk).body == template.body
