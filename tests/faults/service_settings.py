"""Settings of the worker, beat and web processes the fault tests start: the product's, plus two
knobs that have no environment variable (a mock origin for Twilio's REST API, fast password hashes
for the accounts the tests create)."""

import os

from loophole.settings import *  # noqa: F403

TWILIO_API_BASE_URL = os.environ.get("FAULTS_TWILIO_API_URL", "")
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
