"""Email in and out.

Inbound mail arrives two ways and both end in `inbound.handle_inbound(raw_bytes)`:
- Postmark's inbound webhook through django-anymail at `/anymail/postmark/inbound/` (HTTP basic
  auth with the credentials `manage.py receive_email --webhook-url` prints; turn on "Include raw
  email content in JSON payload" in Postmark so the message arrives byte for byte). The request only
  keeps the mail (`intake.keep`); a Celery worker reads it within INBOUND_EMAIL_PARSE_SECONDS;
- `manage.py receive_email`, one raw RFC 822 message on stdin, for a mail server's pipe delivery
  (its own process: it reads the mail itself).

Reading is linear in the message's size (`mime`, `parsing`, `text`); MIME nested past
`parsing.MAX_MIME_DEPTH` is refused before anything parses it.

Outbound replies leave from the delivery task through `adapter.send` (Django's EMAIL_BACKEND).
"""
