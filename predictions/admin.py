from django.contrib import admin

from .models import (
    Metric,
    MetricPush,
    MetricSource,
    Observation,
    ObservationChange,
    Prediction,
    Resolution,
    Reveal,
)


@admin.register(Metric)
class MetricAdmin(admin.ModelAdmin):
    list_display = ["name", "team", "unit", "scale", "definition_version", "created_at"]
    list_filter = ["scale", "team"]
    search_fields = ["name", "description", "team__name"]
    raw_id_fields = ["team", "created_by"]


@admin.register(Observation)
class ObservationAdmin(admin.ModelAdmin):
    list_display = ["metric", "observed_at", "value", "source", "entered_by"]
    list_filter = ["metric__team"]
    search_fields = ["metric__name", "source"]
    date_hierarchy = "observed_at"
    raw_id_fields = ["metric", "entered_by"]


@admin.register(ObservationChange)
class ObservationChangeAdmin(admin.ModelAdmin):
    list_display = ["observation", "old_value", "new_value", "changed_by", "changed_at", "via"]
    raw_id_fields = ["observation", "changed_by"]

    def has_change_permission(self, request, obj=None):
        return False


class ResolutionInline(admin.StackedInline):
    model = Resolution
    extra = 0
    raw_id_fields = ["resolved_by"]


@admin.register(Prediction)
class PredictionAdmin(admin.ModelAdmin):
    list_display = ["title", "metric", "author", "kind", "horizon", "committed_at"]
    list_filter = ["kind", "team", ("committed_at", admin.EmptyFieldListFilter)]
    search_fields = ["title", "rationale", "metric__name", "author__email"]
    raw_id_fields = ["team", "metric", "author", "supersedes"]
    inlines = [ResolutionInline]

    def get_readonly_fields(self, request, obj=None):
        # The database refuses changes to a committed prediction; say so up front.
        if obj is not None and obj.is_committed:
            return [f.name for f in self.model._meta.fields]
        return ["committed_at", "content_hash"]


@admin.register(Reveal)
class RevealAdmin(admin.ModelAdmin):
    list_display = ["metric", "user", "created_at"]
    raw_id_fields = ["metric", "user"]


@admin.register(MetricSource)
class MetricSourceAdmin(admin.ModelAdmin):
    list_display = ["metric", "host", "every_hours", "active", "last_fetched_at", "failures"]
    list_filter = ["active", "format", "every_hours"]
    search_fields = ["metric__name", "url"]
    raw_id_fields = ["metric", "created_by"]
    # The credential stays encrypted and unseen; the fetch state is the worker's to write.
    readonly_fields = [
        "next_fetch_at", "claim_token", "etag", "last_modified", "last_fetched_at",
        "last_success_at", "last_result", "last_error", "failures", "failing_since",
        "failure_notified_at",
    ]  # fmt: skip


@admin.register(MetricPush)
class MetricPushAdmin(admin.ModelAdmin):
    list_display = ["metric", "created_by", "created_at", "last_received_at"]
    raw_id_fields = ["metric", "created_by"]
    readonly_fields = ["created_at", "last_received_at"]
