from django.contrib import admin

from .models import (
    AuditRun,
    Idea,
    IdeaStatusChange,
    Model,
    Price,
    Probe,
    Result,
    ResultOverride,
    TeamModel,
)


class ProbeInline(admin.StackedInline):
    model = Probe
    extra = 0


class StatusChangeInline(admin.TabularInline):
    model = IdeaStatusChange
    extra = 0
    readonly_fields = ["from_status", "to_status", "changed_by", "reason", "created_at"]
    can_delete = False


@admin.register(Idea)
class IdeaAdmin(admin.ModelAdmin):
    list_display = ["title", "team", "status", "last_tried_at", "last_tried_model", "owner"]
    list_filter = ["status", "team"]
    search_fields = ["title", "description", "capability_needed"]
    inlines = [ProbeInline, StatusChangeInline]
    raw_id_fields = ["owner"]


@admin.register(Probe)
class ProbeAdmin(admin.ModelAdmin):
    list_display = ["name", "idea", "grader", "samples", "pass_k"]
    list_filter = ["grader"]
    search_fields = ["name", "user_message", "idea__title"]


@admin.register(Model)
class ModelAdmin(admin.ModelAdmin):
    list_display = [
        "model_id",
        "display_name",
        "released_at",
        "lifecycle",
        "is_alias",
        "resolves_to",
        "retired",
        "last_seen_at",
    ]
    list_filter = ["retired", "is_alias", "lifecycle"]
    search_fields = ["model_id", "display_name"]


@admin.register(Price)
class PriceAdmin(admin.ModelAdmin):
    list_display = [
        "model_id",
        "input_per_mtok",
        "output_per_mtok",
        "cache_write_per_mtok",
        "cache_read_per_mtok",
        "updated_at",
    ]
    list_editable = [
        "input_per_mtok",
        "output_per_mtok",
        "cache_write_per_mtok",
        "cache_read_per_mtok",
    ]
    search_fields = ["model_id"]


@admin.register(TeamModel)
class TeamModelAdmin(admin.ModelAdmin):
    list_display = ["team", "model"]
    list_filter = ["team"]


@admin.register(AuditRun)
class AuditRunAdmin(admin.ModelAdmin):
    list_display = [
        "pk",
        "team",
        "quarter",
        "status",
        "done_calls",
        "error_calls",
        "expected_calls",
        "cost_usd",
        "created_at",
    ]
    list_filter = ["status", "quarter", "team"]
    readonly_fields = [
        "epoch",
        "live_session_id",
        "cost_usd",
        "tokens_in",
        "tokens_out",
        "done_calls",
        "error_calls",
        "expected_calls",
    ]
    filter_horizontal = ["models", "ideas"]


class OverrideInline(admin.TabularInline):
    model = ResultOverride
    extra = 0
    readonly_fields = ["from_grade", "to_grade", "reason", "overridden_by", "created_at"]


@admin.register(Result)
class ResultAdmin(admin.ModelAdmin):
    list_display = [
        "pk",
        "run",
        "probe",
        "model",
        "sample",
        "grade",
        "resolved_model",
        "cost_usd",
        "error_kind",
    ]
    list_filter = ["grade", "error_kind"]
    search_fields = ["response", "probe__name"]
    raw_id_fields = ["run", "probe"]
    inlines = [OverrideInline]


@admin.register(ResultOverride)
class ResultOverrideAdmin(admin.ModelAdmin):
    list_display = ["result", "from_grade", "to_grade", "overridden_by", "created_at"]
