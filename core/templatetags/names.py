"""People's names in the templates of the admin and the desk: `{{ user|person_name }}` (core.ui.user_name: a Chinese
name family name first, "陈晓燕")."""

from django import template

from core import ui

register = template.Library()


@register.filter
def person_name(user) -> str:
    return ui.user_name(user)
