"""The API scope `webhooks:manage` (core.models.API_SCOPES). The scopes' permissions hang on core's table-less
ApiScope; this migration lives in partners (the app that brought the scope) so that core's migrations stay as they
are: its operation changes core's model state, and Django's post_migrate creates the new permission."""

from django.db import migrations

SCOPES = [
    "read",
    "pii",
    "customers:write",
    "bills:write",
    "events:write",
    "runs:write",
    "benefits:redeem",
    "points:write",
    "webhooks:manage",
]


class AlterCoreModelOptions(migrations.AlterModelOptions):
    """AlterModelOptions of a model of the core app, from another app's migration."""

    def state_forwards(self, app_label, state):
        super().state_forwards("core", state)

    def describe(self):
        return f"Change Meta options on core.{self.name}"


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0006_outboxevent"),
        ("partners", "0001_initial"),
    ]

    operations = [
        AlterCoreModelOptions(
            name="apiscope",
            options={
                "default_permissions": (),
                "managed": False,
                "permissions": [("scope_" + s.replace(":", "_"), f"API scope {s}") for s in SCOPES],
                "verbose_name": "API scope",
            },
        ),
    ]
