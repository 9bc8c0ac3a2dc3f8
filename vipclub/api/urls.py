from django.urls import path

from customers import apis as customer_apis

from . import views

urlpatterns = [
    path("health/", views.HealthApi.as_view(), name="api-health"),
    path("regions/<str:code>/", customer_apis.RegionUpsertApi.as_view(), name="api-region"),
    path("customers/bulk/", customer_apis.CustomersBulkApi.as_view(), name="api-customers-bulk"),
    path("customers/", views.CustomerListApi.as_view(), name="api-customers"),
    path("customers/<str:msisdn>/", views.CustomerDetailApi.as_view(), name="api-customer"),
    path("bills/bulk/", views.BillsBulkApi.as_view(), name="api-bills-bulk"),
    path(
        "billing-months/<str:month>/close/",
        customer_apis.BillingMonthCloseApi.as_view(),
        name="api-billing-month-close",
    ),
    path("events/", views.EventApi.as_view(), name="api-events"),
]
