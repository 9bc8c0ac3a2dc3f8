"""API routes of the points app, mounted under /api/v1/ by vipclub/api/urls.py."""

from django.urls import path

from . import apis

urlpatterns = [
    path("customers/<str:msisdn>/points/", apis.CustomerPointsApi.as_view(), name="api-customer-points"),
    path("points/redemptions/", apis.PointsRedemptionApi.as_view(), name="api-points-redemptions"),
    path("points/transfers/", apis.PointsTransferApi.as_view(), name="api-points-transfers"),
]
