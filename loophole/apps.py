from django.apps import AppConfig


class LoopholeConfig(AppConfig):
    name = "loophole"
    verbose_name = "Accounts"
