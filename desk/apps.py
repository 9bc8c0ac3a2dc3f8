from django.apps import AppConfig


class DeskConfig(AppConfig):
    """The account managers' and supervisors' pages: views, forms, urls, templates and template tags."""

    name = "desk"
