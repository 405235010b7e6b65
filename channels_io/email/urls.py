"""The inbound email webhook: Postmark's, through django-anymail, at /anymail/postmark/inbound/.

Only the one provider's inbound view is mounted (not every ESP's webhooks). Importing the receivers
here connects them before the first webhook can arrive: the view is reachable only through this URLconf.
"""

from anymail.webhooks.postmark import PostmarkInboundWebhookView
from django.urls import path

import channels_io.email.receivers  # noqa: F401 - connects the anymail `inbound` receiver

urlpatterns = [
    path("postmark/inbound/", PostmarkInboundWebhookView.as_view(), name="postmark_inbound_webhook"),
]
