from apps.core.permissions import POLICY, can


def roles(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"perms_pa": {}}
    return {"perms_pa": {action.value: can(user, action) for action in POLICY}}
