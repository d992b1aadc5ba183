from django.urls import path

from . import views

app_name = "cadences"

urlpatterns = [
    path("cadences/", views.cadence_list, name="cadence_list"),
    path("cadences/new/", views.cadence_create, name="cadence_create"),
    path("cadences/preview/", views.cadence_preview, name="cadence_preview"),
    path("cadences/settings/", views.cadence_settings, name="settings"),
    path("cadences/settings/rotate/", views.rotate_feed_token, name="rotate_feed_token"),
    path(
        "cadences/settings/webhook-secret/",
        views.rotate_webhook_secret,
        name="rotate_webhook_secret",
    ),
    path("cadences/<int:pk>/", views.cadence_detail, name="cadence_detail"),
    path("cadences/<int:pk>/edit/", views.cadence_edit, name="cadence_edit"),
    path("cadences/<int:pk>/delete/", views.cadence_delete, name="cadence_delete"),
    path(
        "cadences/occurrences/<int:pk>/<str:state>/",
        views.occurrence_mark,
        name="occurrence_mark",
    ),
    path("notifications/", views.notification_list, name="notifications"),
    path("notifications/bell/", views.notification_bell, name="bell"),
    path("notifications/read/", views.notification_read_all, name="notifications_read_all"),
    path("notifications/<int:pk>/read/", views.notification_read, name="notification_read"),
]
