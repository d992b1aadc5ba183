from django.urls import path

from . import side_views, views

app_name = "facilitator"

urlpatterns = [
    path("settings/facilitator/", views.settings_page, name="settings"),
    path("reviews/<quarter:quarter>/step/<int:n>/draft/", views.start, name="start"),
    path("reviews/<quarter:quarter>/step/<int:n>/draft/panel/", views.panel, name="panel"),
    path("drafts/<int:pk>/accept/", views.accept, name="accept"),
    path("drafts/<int:pk>/discard/", views.discard, name="discard"),
    path("drafts/<int:pk>/revised/", views.revised, name="revised"),
    path("reviews/<quarter:quarter>/sides/", side_views.start, name="sides_start"),
    path("reviews/<quarter:quarter>/sides/panel/", side_views.panel, name="sides_panel"),
    path("sides/<int:pk>/accept/", side_views.accept, name="side_accept"),
    path("sides/<int:pk>/discard/", side_views.discard, name="side_discard"),
]
