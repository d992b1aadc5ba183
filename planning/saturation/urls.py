from django.urls import path

from . import views

app_name = "saturation"

urlpatterns = [
    path("saturation/", views.formfactor_list, name="formfactor_list"),
    path("saturation/new/", views.formfactor_create, name="formfactor_create"),
    path("saturation/<int:pk>/", views.formfactor_detail, name="formfactor"),
    path("saturation/<int:pk>/edit/", views.formfactor_edit, name="formfactor_edit"),
    path("saturation/<int:pk>/delete/", views.formfactor_delete, name="formfactor_delete"),
    path("saturation/<int:pk>/readings/", views.reading_add, name="reading_add"),
    path(
        "saturation/<int:pk>/readings/<int:reading_pk>/delete/",
        views.reading_delete,
        name="reading_delete",
    ),
    path("saturation/<int:pk>/readings/import/", views.reading_import, name="reading_import"),
    path("saturation/<int:pk>/readings.csv", views.readings_csv, name="readings_csv"),
]
