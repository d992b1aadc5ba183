from django.urls import path

from . import propose_views, views

app_name = "audits"

urlpatterns = [
    path("ideas/", views.idea_list, name="idea_list"),
    path("ideas/new/", views.idea_create, name="idea_create"),
    path("ideas/<int:pk>/", views.idea_detail, name="idea_detail"),
    path("ideas/<int:pk>/edit/", views.idea_edit, name="idea_edit"),
    path("ideas/<int:pk>/status/", views.idea_status, name="idea_status"),
    path("ideas/<int:pk>/probes/new/", views.probe_create, name="probe_create"),
    path("ideas/probes/<int:pk>/edit/", views.probe_edit, name="probe_edit"),
    path("ideas/probes/<int:pk>/try/", views.probe_try, name="probe_try"),
    path("ideas/<int:pk>/propose/", propose_views.propose_probes, name="propose_probes"),
    path(
        "ideas/proposals/<int:pk>/<int:n>/save/", propose_views.proposal_save, name="proposal_save"
    ),
    path("ideas/proposals/<int:pk>/<int:n>/try/", propose_views.proposal_try, name="proposal_try"),
    path("audits/", views.run_list, name="run_list"),
    path("audits/new/", views.run_create, name="run_create"),
    path("audits/new/estimate/", views.run_estimate, name="run_estimate"),
    path("audits/matrix/", views.matrix_view, name="matrix"),
    path("audits/models/", views.model_list, name="model_list"),
    path("audits/<int:pk>/", views.run_detail, name="run_detail"),
    path("audits/<int:pk>/progress/", views.run_progress, name="run_progress"),
    path("audits/<int:pk>/stop/", views.run_stop, name="run_stop"),
    path("audits/<int:pk>/resume/", views.run_resume, name="run_resume"),
    path("audits/results/<int:pk>/", views.result_detail, name="result_detail"),
]
