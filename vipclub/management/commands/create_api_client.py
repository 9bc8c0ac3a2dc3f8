from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from rest_framework.authtoken.models import Token

from core.models import API_SCOPES
from core.permissions import API_CLIENTS_GROUP


class Command(BaseCommand):
    help = "Create (or find) an API client user for another system and print its token."

    def add_arguments(self, parser):
        parser.add_argument("name", help="the system's name, e.g. billing, hotline, lounge-pek")
        parser.add_argument("--rotate", action="store_true", help="replace an existing token with a new one")
        parser.add_argument(
            "--scopes",
            default="read",
            help=f"comma-separated scopes of the token (default: read; replaces the client's scopes): {', '.join(API_SCOPES)}",
        )

    def handle(self, name, rotate, scopes, **options):
        scopes = sorted({s.strip() for s in scopes.split(",") if s.strip()})
        unknown = [s for s in scopes if s not in API_SCOPES]
        if unknown or not scopes:
            raise CommandError(
                f"Unknown scopes: {', '.join(unknown) or '(none given)'}. Known: {', '.join(API_SCOPES)}."
            )
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
        user.groups.remove(*Group.objects.filter(name__startswith="api:"))
        user.groups.add(*Group.objects.filter(name__in=[f"api:{s}" for s in scopes]))
        if rotate:
            Token.objects.filter(user=user).delete()
        token, _ = Token.objects.get_or_create(user=user)
        self.stdout.write(token.key)
        self.stderr.write(f"api-{name}: scopes {', '.join(scopes)}")
