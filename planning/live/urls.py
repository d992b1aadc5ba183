from django.urls import path

from . import views

app_name = "live"

urlpatterns = [
    path("", views.index, name="index"),
    path("<uuid:session_id>/", views.session_page, name="session"),
    path("<uuid:session_id>/events", views.events, name="events"),
    path("<uuid:session_id>/log", views.log, name="log"),
    path("<uuid:session_id>/cancel", views.cancel, name="cancel"),
    path("<uuid:session_id>/steer", views.steer, name="steer"),
]
