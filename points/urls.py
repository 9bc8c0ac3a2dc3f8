"""API routes of the points app, mounted under /api/v1/ by vipclub/api/urls.py."""

urlpatterns: list = []
