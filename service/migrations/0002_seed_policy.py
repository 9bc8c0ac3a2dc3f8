from django.db import migrations


def seed(apps, schema_editor):
    ComplaintPolicy = apps.get_model("service", "ComplaintPolicy")
    ComplaintPolicy.objects.get_or_create(
        code="default", defaults={"acknowledge_hours": 2, "reply_hours": 48, "resolve_working_days": 5, "repeat_days": 30}
    )


class Migration(migrations.Migration):
    dependencies = [("service", "0001_initial")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
