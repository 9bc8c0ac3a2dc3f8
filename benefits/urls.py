"""API routes of the benefits app, mounted under /api/v1/ by vipclub/api/urls.py."""

urlpatterns: list = []
