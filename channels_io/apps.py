from django.apps import AppConfig


class ChannelsIoConfig(AppConfig):
    name = "channels_io"
    verbose_name = "Channels"

    def ready(self) -> None:
        import channels_io.receivers  # noqa: F401 - connects the receivers
        from channels_io import registry

        registry.register_all()
