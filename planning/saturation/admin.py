from django.contrib import admin

from .models import FormFactor, SaturationReading


class ReadingInline(admin.TabularInline):
    model = SaturationReading
    extra = 0


@admin.register(FormFactor)
class FormFactorAdmin(admin.ModelAdmin):
    list_display = ["name", "product", "team", "status", "verdict", "next_form_factor"]
    list_filter = ["status", "verdict", "team"]
    search_fields = ["name", "product", "notes"]
    raw_id_fields = ["next_form_factor"]
    readonly_fields = ["verdict", "verdict_headline", "created_at", "updated_at"]
    inlines = [ReadingInline]


@admin.register(SaturationReading)
class SaturationReadingAdmin(admin.ModelAdmin):
    list_display = [
        "model_name",
        "form_factor",
        "release_date",
        "capability",
        "capability_source",
        "product_value",
        "product_metric",
        "product_scale",
        "cost_per_task",
    ]
    list_filter = ["product_scale", "form_factor__team"]
    search_fields = ["model_name", "form_factor__name", "product_metric", "capability_source"]
    list_select_related = ["form_factor"]
