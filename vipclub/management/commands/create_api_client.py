from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from rest_framework.authtoken.models import Token

from core.permissions import API_CLIENTS_GROUP


class Command(BaseCommand):
    help = "Create (or find) an API client user for another system and print its token."

    def add_arguments(self, parser):
        parser.add_argument("name", help="the system's name, e.g. billing, hotline, lounge-pek")
        parser.add_argument("--rotate", action="store_true", help="replace an existing token with a new one")

    def handle(self, name, rotate, **options):
        name = name.strip()
        if not name or len(name) > 120 or not all(c.isalnum() or c in "-_." for c in name):
            raise CommandError("A client name is 1–120 letters, digits, '-', '_' or '.'.")
        user, created = get_user_model().objects.get_or_create(
            username=f"api-{name}", defaults={"first_name": name, "is_active": True}
        )
        if created:
            user.set_unusable_password()
            user.save(update_fields=["password"])
        user.groups.add(Group.objects.get_or_create(name=API_CLIENTS_GROUP)[0])
        if rotate:
            Token.objects.filter(user=user).delete()
        token, _ = Token.objects.get_or_create(user=user)
        self.stdout.write(token.key)
