"""Field labels Django derives from a field's name (`created_at` → "created at") in the user's language.

A field declared without a verbose name gets its name as a plain string, which no page translates (zh-hans showed
"Created at", "Occurred at", "Source"…). `translate_derived_labels` (called once from vipclub's ready()) makes
those labels lazy translations of themselves; the model's declaration is untouched (`_verbose_name` stays None,
so no migration sees a change). DERIVED_LABELS lists the msgids for makemessages; a test keeps it complete."""

from django.utils.translation import gettext_lazy, gettext_noop

PROJECT_APPS = ("core", "customers", "tiers", "benefits", "points", "managers", "retention", "partners", "vipclub")

DERIVED_LABELS = (
    gettext_noop("account"),
    gettext_noop("actor"),
    gettext_noop("after"),
    gettext_noop("app label"),
    gettext_noop("approved at"),
    gettext_noop("approved by"),
    gettext_noop("attempts"),
    gettext_noop("before"),
    gettext_noop("body"),
    gettext_noop("case"),
    gettext_noop("client"),
    gettext_noop("counts"),
    gettext_noop("created at"),
    gettext_noop("created by"),
    gettext_noop("customer"),
    gettext_noop("customer key"),
    gettext_noop("customers"),
    gettext_noop("details"),
    gettext_noop("done"),
    gettext_noop("done at"),
    gettext_noop("done by"),
    gettext_noop("endpoint"),
    gettext_noop("from status"),
    gettext_noop("from tier"),
    gettext_noop("group"),
    gettext_noop("hi"),
    gettext_noop("id"),
    gettext_noop("key"),
    gettext_noop("kind"),
    gettext_noop("last run at"),
    gettext_noop("lease until"),
    gettext_noop("lo"),
    gettext_noop("loaded by"),
    gettext_noop("logged by"),
    gettext_noop("manager"),
    gettext_noop("method"),
    gettext_noop("model"),
    gettext_noop("name"),
    gettext_noop("object id"),
    gettext_noop("occurred at"),
    gettext_noop("offer"),
    gettext_noop("path"),
    gettext_noop("policy"),
    gettext_noop("read at"),
    gettext_noop("region"),
    gettext_noop("request hash"),
    gettext_noop("reviewed at"),
    gettext_noop("reviewed by"),
    gettext_noop("run"),
    gettext_noop("seconds"),
    gettext_noop("snapshot"),
    gettext_noop("source"),
    gettext_noop("status code"),
    gettext_noop("tier"),
    gettext_noop("to status"),
    gettext_noop("to tier"),
    gettext_noop("updated at"),
    gettext_noop("user"),
    # simple-history's columns of its history tables
    gettext_noop("history change reason"),
    gettext_noop("history date"),
    gettext_noop("history id"),
    gettext_noop("history type"),
    gettext_noop("history user"),
)


def derived_label_fields(models):
    """The fields of `models` whose label Django derived from their name."""
    for model in models:
        if model._meta.app_label not in PROJECT_APPS:
            continue
        for field in model._meta.get_fields():
            if getattr(field, "_verbose_name", "") is None and isinstance(getattr(field, "verbose_name", None), str):
                yield field


def translate_derived_labels(models) -> None:
    for field in list(derived_label_fields(models)):
        field.verbose_name = gettext_lazy(field.verbose_name)


# Texts of the libraries the admin shows that their own zh-hans catalogs lack (django-axes, newer Django admin
# captions): translated in the project's catalog, which Django reads first.
LIBRARY_TEXTS = (
    # django.contrib.admin
    gettext_noop("Model name"),
    gettext_noop("Add link"),
    gettext_noop("Change or view list link"),
    gettext_noop("After you’ve created a user, you’ll be able to edit more user options."),
    # django-axes
    gettext_noop("Access attempts"),
    gettext_noop("Access failures"),
    gettext_noop("Access logs"),
    gettext_noop("access attempt"),
    gettext_noop("access attempts"),
    gettext_noop("access failure"),
    gettext_noop("access failures"),
    gettext_noop("access log"),
    gettext_noop("access logs"),
    gettext_noop("access attempt expiration"),
    gettext_noop("access attempt expirations"),
    gettext_noop("Access Attempt"),
    gettext_noop("Access lock out"),
    gettext_noop("Attempt Time"),
    gettext_noop("Attempt Remaining"),
    gettext_noop("Clean up expired attempts"),
    gettext_noop("Expires At"),
    gettext_noop("Failed Logins"),
    gettext_noop("Form Data"),
    gettext_noop("GET Data"),
    gettext_noop("HTTP Accept"),
    gettext_noop("IP Address"),
    gettext_noop("Locked Out"),
    gettext_noop("Logout Time"),
    gettext_noop("Meta Data"),
    gettext_noop("Not set"),
    gettext_noop("POST Data"),
    gettext_noop("Path"),
    gettext_noop("Session key hash (sha256)"),
    gettext_noop("The time when access attempt expires and is no longer valid."),
    gettext_noop("User Agent"),
    gettext_noop("Username"),
)
