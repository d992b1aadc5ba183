from django.contrib import admin

from .models import Note


@admin.register(Note)
class NoteAdmin(admin.ModelAdmin):
    list_display = ["kind", "text", "team", "content_type", "object_id", "author", "created_at"]
    list_filter = ["kind", "content_type", "team"]
    search_fields = ["text"]
