from django.contrib import admin
from django.utils.html import format_html_join

from .models import LiveSession
from .summary import describe


@admin.register(LiveSession)
class LiveSessionAdmin(admin.ModelAdmin):
    list_display = ["__str__", "team", "kind", "status", "last_seq", "epoch", "created_at"]
    list_filter = ["status", "kind", "team"]
    search_fields = ["title", "kind", "id", "celery_task_id"]
    date_hierarchy = "created_at"
    readonly_fields = [
        "id",
        "last_seq",
        "epoch",
        "celery_task_id",
        "heartbeat_at",
        "cancel_requested_at",
        "cancel_requested_by",
        "compacted_through",
        "created_by",
        "created_at",
        "updated_at",
        "finished_at",
        "event_log",
    ]
    list_select_related = ["team"]

    @admin.display(description="Events (latest 200)")
    def event_log(self, obj):
        events = obj.events.order_by("-seq")[:200]
        return format_html_join(
            "\n",
            "<div><code>#{}</code> {} <small>{}</small></div>",
            ((e.seq, e.type, describe(e.type, e.data)[:200]) for e in events),
        )
