from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class VipclubConfig(AppConfig):
    name = "vipclub"
    verbose_name = _("Integration")

    def ready(self):
        from . import wiring

        wiring.connect(self)
