from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "planning.accounts"
    label = "accounts"
    verbose_name = "Accounts"
