from django.urls import path

from . import views

app_name = "reviews"

urlpatterns = [
    path("reviews/", views.review_list, name="review_list"),
    path("reviews/start/", views.start, name="start"),
    path("reviews/<quarter:quarter>/", views.review, name="review"),
    path("reviews/<quarter:quarter>/step/<int:n>/", views.step, name="step"),
    path("reviews/<quarter:quarter>/step/<int:n>/note/", views.save_note, name="save_note"),
    path("reviews/<quarter:quarter>/decide/", views.decide, name="decide"),
    path("reviews/<quarter:quarter>/backlog/add/", views.backlog_add, name="backlog_add"),
    path("reviews/<quarter:quarter>/backlog/move/", views.backlog_move, name="backlog_move"),
    path(
        "reviews/<quarter:quarter>/backlog/<int:pk>/score/",
        views.backlog_score,
        name="backlog_score",
    ),
    path(
        "reviews/<quarter:quarter>/backlog/<int:pk>/waive/",
        views.backlog_waive,
        name="backlog_waive",
    ),
    path(
        "reviews/<quarter:quarter>/commitments/add/",
        views.commitment_add,
        name="commitment_add",
    ),
    path(
        "reviews/<quarter:quarter>/commitments/<int:pk>/outcome/",
        views.commitment_outcome,
        name="commitment_outcome",
    ),
    path("reviews/<quarter:quarter>/close/", views.close, name="close"),
    path("reviews/<quarter:quarter>/reopen/", views.reopen, name="reopen"),
    path("reviews/<quarter:quarter>/plan/", views.plan, name="plan"),
    path("reviews/<quarter:quarter>/plan.md", views.plan_markdown, name="plan_markdown"),
]
