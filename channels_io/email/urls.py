"""The inbound email webhook: Postmark's, through django-anymail, at /anymail/postmark/inbound/.

Only the one provider's inbound view is mounted (not every ESP's webhooks). Importing the receivers
here connects them before the first webhook can arrive: the view is reachable only through this URLconf.
"""

from django.urls import path

import channels_io.email.receivers  # noqa: F401 - connects the anymail `inbound` receiver
from channels_io.email.views import InboundWebhookView

urlpatterns = [
    path("postmark/inbound/", InboundWebhookView.as_view(), name="postmark_inbound_webhook"),
]
