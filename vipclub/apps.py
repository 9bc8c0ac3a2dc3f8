from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class VipclubConfig(AppConfig):
    name = "vipclub"
    verbose_name = _("Integration")

    def ready(self):
        from django.db.models.signals import post_migrate

        from . import pipeline  # noqa: F401  (connects the monthly pipeline to applied rating runs)
        from .audit import record_initial_state
        from .roles import sync_groups

        post_migrate.connect(sync_groups, sender=self)
        post_migrate.connect(record_initial_state, sender=self)
