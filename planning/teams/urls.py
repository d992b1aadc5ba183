from django.urls import path

from . import views

app_name = "teams"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("settings/", views.team_settings, name="settings"),
    path("settings/audit-log/", views.audit_log, name="audit_log"),
    path("members/", views.members, name="members"),
    path("members/invite/", views.invite, name="invite"),
    path("members/<int:pk>/role/", views.change_role, name="change_role"),
    path("members/<int:pk>/remove/", views.remove_member, name="remove_member"),
    path("invitations/<int:pk>/revoke/", views.revoke_invitation, name="revoke_invitation"),
]
