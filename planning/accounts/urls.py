"""Accounts: django-allauth (login, signup with email verification, password change and
reset, two-factor authentication) under /accounts/, plus personal API tokens.

The short names (login, signup, logout, password_reset) point at allauth's views so links
and older bookmarks keep working."""

from allauth.account import views as allauth_views
from django.urls import include, path

from . import views

urlpatterns = [
    path("login/", views.login, name="login"),
    path("login/", views.login, name="account_login"),
    path("signup/", allauth_views.signup, name="signup"),
    path("logout/", allauth_views.logout, name="logout"),
    path("password/reset/", allauth_views.password_reset, name="password_reset"),
    path("tokens/", views.tokens, name="api_tokens"),
    path("tokens/<int:pk>/revoke/", views.token_revoke, name="api_token_revoke"),
    path("", include("allauth.urls")),
]
