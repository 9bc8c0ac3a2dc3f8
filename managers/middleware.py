"""`request.row_scope`: the rows the request's user may address, for the admin kit (core.admin.BranchScopedAdmin),
which knows no app. The scope itself is managers.selectors' (scope_rows), the same lookup as the API's."""

from customers.models import Customer

from . import selectors
from .models import AccountManager


class RowScope:
    """The user's scope, computed on first use (managers.selectors.customer_scope, kept on the user)."""

    def __init__(self, user):
        self.user = user

    @property
    def everyone(self) -> bool:
        return selectors.sees_all_customers(self.user)

    def rows(self, qs, *, customer: str | None = "customer", region: str | None = None):
        return selectors.scope_rows(qs, self.user, customer=customer, region=region)

    def choices(self, model):
        """The customers or account managers a picker offers her; None for any other model (unscoped)."""
        if model is Customer:
            return selectors.scope_customers(Customer.objects.all(), self.user)
        if model is AccountManager:
            return selectors.scope_managers(AccountManager.objects.all(), self.user)
        return None


class RowScopeMiddleware:
    """Sets `request.row_scope` (after the authentication middleware: the scope is the user's)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.row_scope = RowScope(request.user)
        return self.get_response(request)
