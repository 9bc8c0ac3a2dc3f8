"""The staff pages of issue 16 items 2 and 3, inside the admin site (its login, header and language): the member
page by msisdn and the approvals inbox. Included by vipclub/urls.py before the admin's own urls."""

from django.contrib import admin
from django.urls import path

from . import approvals, member

urlpatterns = [
    path("member/", admin.site.admin_view(member.member_find), name="staff-member-find"),
    path("member/<str:msisdn>/", admin.site.admin_view(member.member_page), name="staff-member"),
    path("approvals/", admin.site.admin_view(approvals.inbox), name="staff-approvals"),
]
