from django.apps import AppConfig


class TicketsConfig(AppConfig):
    name = "tickets"

    def ready(self) -> None:
        import tickets.receivers  # noqa: F401 - connects the receivers
