from django.contrib import admin

from .models import (
    BottleneckMap,
    DeliveryMapping,
    DeliveryUpload,
    Measurement,
    Scenario,
    Stage,
    StageDependency,
)


class StageInline(admin.TabularInline):
    model = Stage
    extra = 0
    fields = [
        "order",
        "name",
        "active_hours",
        "waiting_hours",
        "speedup_active",
        "speedup_waiting",
        "target_speedup",
        "owner",
    ]
    exclude = ["team"]


class ScenarioInline(admin.TabularInline):
    model = Scenario
    extra = 0
    fields = ["name", "speedups", "created_by", "created_at"]
    readonly_fields = ["created_at"]


@admin.register(BottleneckMap)
class BottleneckMapAdmin(admin.ModelAdmin):
    list_display = ["name", "quarter", "mode", "team", "updated_at"]
    list_filter = ["mode", "quarter", "team"]
    search_fields = ["name", "unit_of_work"]
    raw_id_fields = ["copied_from"]
    inlines = [StageInline, ScenarioInline]


class DependencyInline(admin.TabularInline):
    model = StageDependency
    fk_name = "stage"
    extra = 0
    raw_id_fields = ["depends_on"]


@admin.register(Stage)
class StageAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "map",
        "order",
        "active_hours",
        "waiting_hours",
        "speedup_active",
        "speedup_waiting",
        "target_speedup",
        "owner",
    ]
    list_filter = ["map__team", "map__quarter"]
    search_fields = ["name", "owner", "map__name"]
    list_select_related = ["map"]
    raw_id_fields = ["map"]
    exclude = ["team"]
    inlines = [DependencyInline]


@admin.register(Scenario)
class ScenarioAdmin(admin.ModelAdmin):
    list_display = ["name", "map", "created_by", "created_at"]
    list_select_related = ["map", "created_by"]
    raw_id_fields = ["map", "created_by"]


@admin.register(DeliveryUpload)
class DeliveryUploadAdmin(admin.ModelAdmin):
    list_display = ["filename", "source", "map", "rows", "created_by", "created_at"]
    list_filter = ["source", "team"]
    list_select_related = ["map", "created_by"]
    raw_id_fields = ["team", "map", "created_by"]
    readonly_fields = ["created_at"]


@admin.register(DeliveryMapping)
class DeliveryMappingAdmin(admin.ModelAdmin):
    list_display = ["team", "source", "updated_at"]
    list_filter = ["source"]
    list_select_related = ["team"]
    raw_id_fields = ["team"]


@admin.register(Measurement)
class MeasurementAdmin(admin.ModelAdmin):
    list_display = ["map", "source", "window_start", "window_end", "rollout", "items", "created_at"]
    list_filter = ["source", "team"]
    list_select_related = ["map", "map__team"]
    raw_id_fields = ["team", "map", "created_by"]
    readonly_fields = ["created_at"]
