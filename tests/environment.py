"""PRODUCT.md's fixed environment: the only names the app may be configured with."""

PRODUCT_VARIABLES = frozenset(
    {
        "DATABASE_URL",
        "REDIS_URL",
        "OPENAI_API_KEY",
        "OPENAI_BASE_URL",
        "OPENAI_MODEL",
        "TWILIO_ACCOUNT_SID",
        "TWILIO_AUTH_TOKEN",
        "TWILIO_PHONE_NUMBER",
        "SMS_BACKEND",
        "SMS_FILE_PATH",
        "EMAIL_URL",
        "PUBLIC_URL",
        "SUPPORT_EMAIL",
        "SECRET_KEY",
        "DEBUG",
        "ALLOWED_HOSTS",
        "TRUSTED_PROXIES",
        "CHAT_STREAMS_PER_CUSTOMER",
        "CHAT_AWAY_EMAIL_AFTER",
        "SIGNUP_ENABLED",
        "WIDGET_ALLOWED_ORIGINS",
        "WIDGET_JWT_SECRET",
        "EMAIL_AUTHSERV_ID",  # the project's own: the mail server whose Authentication-Results count
        "ANYMAIL_WEBHOOK_SECRET",  # the project's own, in anymail's name: the inbound email webhook's user:password
        "STAFF_WEBHOOK_URL",  # the project's own: staff notifications as a signed JSON POST
        "STAFF_WEBHOOK_SECRET",  # the project's own: the HMAC-SHA256 key of that POST's signature
    }
)
