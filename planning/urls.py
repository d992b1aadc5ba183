from django.contrib import admin
from django.urls import include, path, register_converter

from planning import views
from planning.cadences import views as cadence_views
from planning.quarters import QuarterConverter
from planning.teams import views as team_views
from predictions.source_views import push_receive

# before the apps' URLs are included: they use <quarter:…>
register_converter(QuarterConverter, "quarter")

# Every team page lives under /t/<team>/; each app adds its own prefixes (metrics/, ideas/, …).
team_patterns = [
    path("", include("planning.teams.urls")),
    path("", include("planning.notes.urls")),
    path("", include("predictions.urls")),
    path("", include("audits.urls")),
    path("", include("planning.bottlenecks.urls")),
    path("", include("planning.saturation.urls")),
    path("", include("planning.cadences.urls")),
    path("", include("planning.reviews.urls")),
    path("", include("planning.facilitator.urls")),
]

urlpatterns = [
    path("", team_views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("accounts/", include("planning.accounts.urls")),
    path("teams/", team_views.team_list, name="team_list"),
    path("teams/new/", team_views.team_create, name="team_create"),
    path("invitations/<str:token>/", team_views.invitation, name="invitation"),
    path("t/<slug:team>/", include(team_patterns)),
    path("cal/<str:token>.ics", cadence_views.calendar_feed, name="calendar_feed"),
    # A metric's inbound push URL: its secret token names the metric (no session, no team slug).
    path("push/<str:token>/", push_receive, name="push_receive"),
    path("live/", include("planning.live.urls")),
    path("api/v1/", include("predictions.api_urls")),
    path("admin/", admin.site.urls),
]

# allauth's rate limits answer with this view (a 429 naming the limit).
handler429 = "planning.accounts.views.too_many_requests"
