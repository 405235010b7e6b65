"""Email in and out.

Inbound mail arrives two ways and both end in `inbound.handle_inbound(raw_bytes)`:
- Postmark's inbound webhook through django-anymail at `/anymail/postmark/inbound/` (HTTP basic
  auth with the credentials `manage.py receive_email --webhook-url` prints; turn on "Include raw
  email content in JSON payload" in Postmark so the message arrives byte for byte);
- `manage.py receive_email`, one raw RFC 822 message on stdin, for a mail server's pipe delivery.

Outbound replies leave from the delivery task through `adapter.send` (Django's EMAIL_BACKEND).
"""
