"""The API's token authentication: DRF's (`Authorization: Token <key>`, 401 for an unknown key or an inactive
user), reading the token, its user and her grants (core.permissions: group names and scope permissions) in one
query on PostgreSQL — every API request needs all three, and a revoked token, a deactivated user or a scope taken
away counts from the next request, as before: nothing is kept between requests."""

from django.contrib.auth import get_user_model
from django.db import connection
from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions
from rest_framework.authtoken.models import Token

from .permissions import remember_grants
from .sql import fetchone_prepared

# The user's groups and her scope permissions (given to her or to a group of hers), as core.permissions._grants
# reads them; planned in ~0.6 ms, where the token query and the grants' UNION took two round trips.
_USER_FIELDS = [f.attname for f in get_user_model()._meta.concrete_fields]
_TOKEN_SQL = f"""
SELECT t.created, {", ".join(f"u.{name}" for name in _USER_FIELDS)},
       ARRAY(SELECT g.name FROM auth_user_groups ug JOIN auth_group g ON g.id = ug.group_id WHERE ug.user_id = u.id),
       ARRAY(SELECT p.codename FROM auth_permission p JOIN django_content_type ct ON ct.id = p.content_type_id
             WHERE ct.app_label = 'core' AND p.codename LIKE 'scope\\_%%'
               AND p.id IN (SELECT up.permission_id FROM auth_user_user_permissions up WHERE up.user_id = u.id
                            UNION ALL
                            SELECT gp.permission_id FROM auth_group_permissions gp
                            JOIN auth_user_groups ug ON ug.group_id = gp.group_id WHERE ug.user_id = u.id))
FROM authtoken_token t JOIN auth_user u ON u.id = t.user_id
WHERE t.key = %s
"""


class TokenAuthentication(authentication.TokenAuthentication):
    def authenticate_credentials(self, key):
        if connection.vendor != "postgresql":
            return super().authenticate_credentials(key)
        row = fetchone_prepared(_TOKEN_SQL, [key])
        if row is None:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        created, *values, groups, perms = row
        user = get_user_model().from_db(connection.alias, _USER_FIELDS, values)
        if not user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        token = Token.from_db(connection.alias, ["key", "user_id", "created"], [key, user.pk, created])
        token.user = user
        remember_grants(user, groups, perms)
        return user, token
