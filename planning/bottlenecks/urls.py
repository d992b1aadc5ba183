from django.urls import path

from . import views

app_name = "bottlenecks"

urlpatterns = [
    path("bottlenecks/", views.map_list, name="map_list"),
    path("bottlenecks/new/", views.map_create, name="map_create"),
    path("bottlenecks/<int:pk>/", views.map_detail, name="map_detail"),
    path("bottlenecks/<int:pk>/edit/", views.map_edit, name="map_edit"),
    path("bottlenecks/<int:pk>/delete/", views.map_delete, name="map_delete"),
    path("bottlenecks/<int:pk>/copy/", views.map_copy, name="map_copy"),
    path("bottlenecks/<int:pk>/what-if/", views.what_if, name="what_if"),
    path("bottlenecks/<int:pk>/stages/", views.stage_add, name="stage_add"),
    path("bottlenecks/<int:pk>/stages/<int:stage_pk>/", views.stage_row, name="stage_row"),
    path("bottlenecks/<int:pk>/stages/<int:stage_pk>/edit/", views.stage_edit, name="stage_edit"),
    path("bottlenecks/<int:pk>/stages/<int:stage_pk>/move/", views.stage_move, name="stage_move"),
    path(
        "bottlenecks/<int:pk>/stages/<int:stage_pk>/delete/",
        views.stage_delete,
        name="stage_delete",
    ),
    path("bottlenecks/<int:pk>/measure/", views.measure_upload, name="measure_upload"),
    path("bottlenecks/<int:pk>/measure/<int:upload_pk>/", views.measure_view, name="measure"),
    path(
        "bottlenecks/<int:pk>/measure/<int:upload_pk>/delete/",
        views.measure_delete,
        name="measure_delete",
    ),
    path("bottlenecks/<int:pk>/scenarios/", views.scenario_save, name="scenario_save"),
    path(
        "bottlenecks/<int:pk>/scenarios/<int:scenario_pk>/delete/",
        views.scenario_delete,
        name="scenario_delete",
    ),
]
