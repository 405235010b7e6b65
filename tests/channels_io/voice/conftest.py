from tests.channels_io.sms.twilio_helpers import customer, fake_twilio, outbox, twilio  # noqa: F401 - fixtures
