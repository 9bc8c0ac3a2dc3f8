"""The staff pages, in front of the admin's own urls (vipclub.urls): /admin/ itself is the cockpit."""

from django.contrib import admin
from django.urls import path

from . import calendar, cockpit, reports

urlpatterns = [
    path("", admin.site.admin_view(cockpit.cockpit_view), name="admin-staff-cockpit"),
    path("staff/reports/", admin.site.admin_view(reports.reports_view), name="admin-staff-reports"),
    path("staff/reports/compliance/", admin.site.admin_view(reports.compliance_view), name="admin-staff-compliance"),
    path("staff/reports/points/", admin.site.admin_view(reports.points_view), name="admin-staff-points"),
    path("staff/reports/migration/", admin.site.admin_view(reports.migration_view), name="admin-staff-migration"),
    path("staff/calendar/", admin.site.admin_view(calendar.calendar_view), name="admin-staff-calendar"),
]
