from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from desk.views import home
from vipclub.audit import audit_view

admin.site.site_header = "vipclub"
admin.site.site_title = "vipclub"
# Lists fit 1366 px (issue 16): the model list beside every page took 300 px of them; the home page and the
# breadcrumbs lead to the lists.
admin.site.enable_nav_sidebar = False

urlpatterns = [
    path("", home, name="home"),
    path("dashboard/", include("desk.urls")),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/audit/", admin.site.admin_view(audit_view), name="admin-audit"),
    path("admin/", include("vipclub.staff.urls_cockpit")),  # the cockpit (the admin's home), reports, calendar
    path("admin/", include("vipclub.staff.urls_member")),
    path("admin/", admin.site.urls),
    # the contract for code generators: a token (or a session) reads it (SERVE_PERMISSIONS); the docs pages are
    # for people, behind the login page
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", login_required(SpectacularSwaggerView.as_view(url_name="api-schema")), name="api-docs"),
    path("api/redoc/", login_required(SpectacularRedocView.as_view(url_name="api-schema")), name="api-redoc"),
    path("api/v1/", include("vipclub.api.urls")),
]

handler404 = "core.api.json_404"
handler500 = "core.api.json_500"
