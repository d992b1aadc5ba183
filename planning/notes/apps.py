from django.apps import AppConfig


class NotesConfig(AppConfig):
    name = "planning.notes"
    label = "notes"
    verbose_name = "Light and shade"
