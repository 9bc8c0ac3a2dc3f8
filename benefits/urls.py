"""API routes of the benefits app, mounted under /api/v1/ by vipclub/api/urls.py."""

from django.urls import path

from . import apis

urlpatterns = [
    path("benefits/", apis.CatalogApi.as_view(), name="api-benefits"),
    path("benefits/redemptions/", apis.RedemptionCreateApi.as_view(), name="api-benefit-redemptions"),
    path(
        "benefits/redemptions/<int:redemption_id>/reverse/",
        apis.RedemptionReverseApi.as_view(),
        name="api-benefit-redemption-reverse",
    ),
    path("customers/<str:msisdn>/benefits/", apis.CustomerBenefitsApi.as_view(), name="api-customer-benefits"),
    path(
        "customers/<str:msisdn>/benefit-flags/",
        apis.CustomerBenefitFlagsApi.as_view(),
        name="api-customer-benefit-flags",
    ),
]
