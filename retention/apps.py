from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RetentionConfig(AppConfig):
    name = "retention"
    verbose_name = _("Retention")

    def ready(self):
        from . import views

        views.register()  # the cases and the risk list on the managers' dashboard and team page

        from managers.signals import customers_reassigned

        from .services import cases_follow_reassignment

        customers_reassigned.connect(cases_follow_reassignment, dispatch_uid="retention.cases_follow_reassignment")
