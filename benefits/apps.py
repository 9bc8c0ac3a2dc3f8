from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BenefitsConfig(AppConfig):
    name = "benefits"
    verbose_name = _("Benefits")

    def ready(self):
        from . import receivers  # noqa: F401  (re-grants when a tier changes between runs)
