from django.contrib import admin

from .models import BacklogItem, Commitment, Decision, PlanSnapshot, Review, StepNote


class StepNoteInline(admin.TabularInline):
    model = StepNote
    extra = 0


class CommitmentInline(admin.TabularInline):
    model = Commitment
    fk_name = "review"
    extra = 0


@admin.register(Review)
class ReviewAdmin(admin.ModelAdmin):
    list_display = ["quarter", "team", "status", "started_at", "closed_at"]
    list_filter = ["status", "team"]
    inlines = [StepNoteInline, CommitmentInline]


@admin.register(Decision)
class DecisionAdmin(admin.ModelAdmin):
    list_display = ["subject_label", "choice", "step", "review", "decided_by", "decided_at"]
    list_filter = ["step", "choice"]


@admin.register(BacklogItem)
class BacklogItemAdmin(admin.ModelAdmin):
    list_display = ["title", "review", "source", "rank", "impact", "confidence", "effort"]
    list_filter = ["source"]


@admin.register(Commitment)
class CommitmentAdmin(admin.ModelAdmin):
    list_display = ["what", "owner", "due_date", "status", "review"]
    list_filter = ["status"]


@admin.register(PlanSnapshot)
class PlanSnapshotAdmin(admin.ModelAdmin):
    list_display = ["review", "number", "closed_at", "closed_by", "content_hash"]
    readonly_fields = ["review", "number", "markdown", "content_hash", "closed_at", "closed_by"]

    def has_change_permission(self, request, obj=None) -> bool:
        return False
