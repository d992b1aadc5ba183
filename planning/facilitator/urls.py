from django.urls import path

from . import views

app_name = "facilitator"

urlpatterns = [
    path("settings/facilitator/", views.settings_page, name="settings"),
    path("reviews/<quarter:quarter>/step/<int:n>/draft/", views.start, name="start"),
    path("reviews/<quarter:quarter>/step/<int:n>/draft/panel/", views.panel, name="panel"),
    path("drafts/<int:pk>/accept/", views.accept, name="accept"),
    path("drafts/<int:pk>/discard/", views.discard, name="discard"),
]
