from django.urls import path

from . import views

app_name = "notes"

urlpatterns = [
    path("notes/<int:ct_id>/<int:object_id>/add/", views.add_note, name="add"),
    path("notes/<int:pk>/delete/", views.delete_note, name="delete"),
]
