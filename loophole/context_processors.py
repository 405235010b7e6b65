from django.conf import settings
from django.http import HttpRequest


def support(request: HttpRequest) -> dict[str, object]:
    return {"support_email": settings.SUPPORT_EMAIL, "signup_enabled": settings.SIGNUP_ENABLED}
