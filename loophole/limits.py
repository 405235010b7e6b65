"""Request body limits of the webhook routes: the ASGI front refuses a larger body before reading it,
and the routes check them again (under any other server)."""

# Twilio's form posts are a few kilobytes; an SMS body is at most 1,600 characters.
TWILIO_MAX_BODY = 64 * 1024
# A 10 MB message arrives as RawEmail plus Postmark's parsed copy (bodies, base64 attachments).
INBOUND_EMAIL_MAX_PAYLOAD = 40 * 1024 * 1024
