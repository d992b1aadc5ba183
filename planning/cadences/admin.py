from django.contrib import admin

from .models import Cadence, Digest, Notification, Occurrence, Reminder, TeamCadenceSettings


class OccurrenceInline(admin.TabularInline):
    model = Occurrence
    extra = 0
    fields = ["due_at", "state", "completed_by", "completed_at", "note"]
    readonly_fields = ["due_at"]
    ordering = ["-due_at"]
    show_change_link = True


@admin.register(Cadence)
class CadenceAdmin(admin.ModelAdmin):
    list_display = ["title", "team", "kind", "rrule", "due_time", "paused", "next_due_at"]
    list_filter = ["kind", "paused", "recipients"]
    search_fields = ["title", "team__name", "team__slug"]
    autocomplete_fields = ["people"]
    readonly_fields = ["next_due_at", "materialize_at", "created_at", "updated_at"]
    inlines = [OccurrenceInline]


@admin.register(Occurrence)
class OccurrenceAdmin(admin.ModelAdmin):
    list_display = ["cadence", "due_at", "state", "next_reminder_at", "completed_by"]
    list_filter = ["state"]
    search_fields = ["cadence__title", "cadence__team__slug"]
    raw_id_fields = ["cadence", "completed_by"]
    date_hierarchy = "due_at"


@admin.register(Reminder)
class ReminderAdmin(admin.ModelAdmin):
    list_display = [
        "occurrence",
        "kind",
        "seq",
        "recipient",
        "channel",
        "status",
        "attempts",
        "last_error",
    ]
    list_filter = ["status", "channel", "kind"]
    search_fields = ["occurrence__cadence__title", "recipient__email", "idempotency_key"]
    raw_id_fields = ["occurrence", "recipient"]
    readonly_fields = ["idempotency_key", "claim_token", "attempted_at", "created_at", "sent_at"]


@admin.register(Digest)
class DigestAdmin(admin.ModelAdmin):
    list_display = ["team", "user", "week", "status", "attempts", "last_error", "sent_at"]
    list_filter = ["status", "week"]
    search_fields = ["team__slug", "user__email", "idempotency_key"]
    raw_id_fields = ["team", "user"]
    readonly_fields = ["idempotency_key", "claim_token", "attempted_at", "created_at", "sent_at"]


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["text", "user", "team", "created_at", "read_at"]
    list_filter = ["read_at"]
    search_fields = ["text", "user__email"]
    raw_id_fields = ["user", "team"]


@admin.register(TeamCadenceSettings)
class TeamCadenceSettingsAdmin(admin.ModelAdmin):
    list_display = ["team", "webhook_url", "weekly_digest", "next_digest_at"]
    raw_id_fields = ["team"]
    readonly_fields = ["feed_token", "webhook_secret"]
