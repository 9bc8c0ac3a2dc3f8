from django.urls import path

from benefits import apis as benefit_apis
from customers import apis as customer_apis
from managers import apis as manager_apis
from partners import apis as partner_apis
from retention import apis as retention_apis
from service import apis as service_apis
from service import gift_apis, survey_apis
from service.activities import apis as activity_apis
from tiers import apis as tier_apis

from . import customers, feed, views

urlpatterns = [
    path("health/", views.HealthApi.as_view(), name="api-health"),
    path("regions/<str:code>/", customer_apis.RegionUpsertApi.as_view(), name="api-region"),
    path("customers/bulk/", customer_apis.CustomersBulkApi.as_view(), name="api-customers-bulk"),
    path("customers/", views.CustomerListApi.as_view(), name="api-customers"),
    path("customers/<str:msisdn>/", views.CustomerDetailApi.as_view(), name="api-customer"),
    path("customers/<str:msisdn>/tier-history/", customers.TierHistoryApi.as_view(), name="api-tier-history"),
    path(
        "customers/<str:msisdn>/tier-explanation/", customers.TierExplanationApi.as_view(), name="api-tier-explanation"
    ),
    path("customers/<str:msisdn>/benefits/", customers.CustomerBenefitsApi.as_view(), name="api-customer-benefits"),
    path(
        "customers/<str:msisdn>/benefit-flags/",
        customers.CustomerBenefitFlagsApi.as_view(),
        name="api-customer-benefit-flags",
    ),
    path("customers/<str:msisdn>/points/", customers.CustomerPointsApi.as_view(), name="api-customer-points"),
    path(
        "customers/<str:msisdn>/privileges/",
        customers.CustomerPrivilegesApi.as_view(),
        name="api-customer-privileges",
    ),
    path("bills/bulk/", views.BillsBulkApi.as_view(), name="api-bills-bulk"),
    path(
        "billing-months/<str:month>/close/",
        customer_apis.BillingMonthCloseApi.as_view(),
        name="api-billing-month-close",
    ),
    path("events/", views.EventApi.as_view(), name="api-events"),
    path("rating-runs/", tier_apis.RatingRunStartApi.as_view(), name="api-rating-runs"),
    path("rating-runs/<int:run_id>/", tier_apis.RatingRunDetailApi.as_view(), name="api-rating-run"),
    path("rating-runs/<int:run_id>/changes/", tier_apis.RatingRunChangesApi.as_view(), name="api-rating-run-changes"),
    path("account-managers/<str:employee_no>/", manager_apis.ManagerUpsertApi.as_view(), name="api-account-manager"),
    path("obligations/", manager_apis.ObligationListApi.as_view(), name="api-obligations"),
    path("contact-logs/", manager_apis.ContactLogApi.as_view(), name="api-contact-logs"),
    path("assignments/reassign/", manager_apis.ReassignApi.as_view(), name="api-reassign"),
    path("retention-cases/", retention_apis.RetentionCaseListApi.as_view(), name="api-retention-cases"),
    path(
        "retention-cases/<int:case_id>/transition/",
        retention_apis.RetentionCaseTransitionApi.as_view(),
        name="api-retention-case-transition",
    ),
    path("reports/churn/", retention_apis.ChurnReportApi.as_view(), name="api-report-churn"),
    path("reports/tiers/", retention_apis.TierReportApi.as_view(), name="api-report-tiers"),
    path("benefits/", benefit_apis.CatalogApi.as_view(), name="api-benefits"),
    path("benefits/redemptions/", customers.BenefitRedemptionApi.as_view(), name="api-benefit-redemptions"),
    path(
        "benefits/redemptions/<int:redemption_id>/reverse/",
        customers.BenefitRedemptionReverseApi.as_view(),
        name="api-benefit-redemption-reverse",
    ),
    path("points/redemptions/", customers.PointsRedemptionApi.as_view(), name="api-points-redemptions"),
    path("points/transfers/", customers.PointsTransferApi.as_view(), name="api-points-transfers"),
    path("feed/", feed.FeedApi.as_view(), name="api-feed"),
    *service_apis.urlpatterns,
    *activity_apis.urlpatterns,
    *survey_apis.urlpatterns,
    *gift_apis.urlpatterns,
    path("webhook-endpoints/", partner_apis.WebhookEndpointListApi.as_view(), name="api-webhook-endpoints"),
    path(
        "webhook-endpoints/<int:endpoint_id>/",
        partner_apis.WebhookEndpointDetailApi.as_view(),
        name="api-webhook-endpoint",
    ),
    path(
        "webhook-endpoints/<int:endpoint_id>/rotate-secret/",
        partner_apis.WebhookEndpointRotateSecretApi.as_view(),
        name="api-webhook-endpoint-rotate-secret",
    ),
]
