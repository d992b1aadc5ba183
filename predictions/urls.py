from django.urls import path

from . import critique_views, source_views, views

app_name = "predictions"

urlpatterns = [
    path("metrics/", views.metric_list, name="metric_list"),
    path("metrics/new/", views.metric_create, name="metric_create"),
    path("metrics/<int:pk>/", views.metric_detail, name="metric_detail"),
    path("metrics/<int:pk>/edit/", views.metric_edit, name="metric_edit"),
    path("metrics/<int:pk>/observations/", views.observations, name="observations"),
    path(
        "metrics/<int:pk>/observations/<int:obs_pk>/edit/",
        views.observation_edit,
        name="observation_edit",
    ),
    path(
        "metrics/<int:pk>/observations/<int:obs_pk>/history/",
        views.observation_history,
        name="observation_history",
    ),
    path("metrics/<int:pk>/upload/", views.observations_upload, name="observations_upload"),
    path("metrics/<int:pk>/observations.csv", views.observations_export, name="observations_csv"),
    path("metrics/<int:pk>/reveal/", views.reveal, name="reveal"),
    path("metrics/<int:pk>/source/", source_views.metric_source, name="metric_source"),
    path("metrics/<int:pk>/source/test/", source_views.metric_source_test, name="source_test"),
    path(
        "metrics/<int:pk>/source/test/<slug:trial_id>/",
        source_views.metric_source_test_result,
        name="source_test_result",
    ),
    path(
        "metrics/<int:pk>/source/delete/", source_views.metric_source_delete, name="source_delete"
    ),
    path("metrics/<int:pk>/push/", source_views.metric_push, name="metric_push"),
    path("metrics/<int:pk>/predict/", views.prediction_create, name="prediction_create"),
    path("metrics/<int:pk>/predict/preview/", views.prediction_preview, name="prediction_preview"),
    path(
        "metrics/<int:pk>/predict/critique/", critique_views.critique_start, name="critique_start"
    ),
    path(
        "metrics/<int:pk>/critiques/<int:cid>/",
        critique_views.critique_panel,
        name="critique_panel",
    ),
    path("predictions/quarter/", views.quarter_view, name="quarter_current"),
    path("predictions/quarter/<quarter:quarter>/", views.quarter_view, name="quarter"),
    path("predictions/calibration/", views.calibration, name="calibration"),
    path("predictions/<int:pk>/", views.prediction_detail, name="prediction_detail"),
    path("predictions/<int:pk>/edit/", views.prediction_edit, name="prediction_edit"),
    path("predictions/<int:pk>/commit/", views.prediction_commit, name="prediction_commit"),
    path("predictions/<int:pk>/revise/", views.prediction_revise, name="prediction_revise"),
    path("predictions/<int:pk>/delete/", views.prediction_delete, name="prediction_delete"),
    path("predictions/<int:pk>/resolve/", views.prediction_resolve, name="prediction_resolve"),
]
