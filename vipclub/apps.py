from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class VipclubConfig(AppConfig):
    name = "vipclub"
    verbose_name = _("Integration")

    def ready(self):
        from django.apps import apps

        from core.labels import translate_derived_labels

        from . import wiring

        wiring.connect(self)
        # labels Django derived from field names ("created at") in the user's language (core.labels)
        translate_derived_labels(apps.get_models(include_auto_created=True))
