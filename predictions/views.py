"""Screens for Lines on Graphs. Views stay thin: maths in trajectory.py/scoring.py, database
work in services.py, figures in charts.py."""

from __future__ import annotations

import csv
from urllib.parse import urlencode

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count, Max, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRefresh

from planning import csvimport
from planning.http import redirect_after_post, render_form, safe_next
from planning.inputs import csv_cell
from planning.quarters import current_quarter, parse_quarter
from planning.teams.models import Role
from planning.teams.tenancy import TeamRequest, team_get_object_or_404, team_view
from planning.validation import Invalid, add_to_form

from . import charts, connected, scoring, services
from .forms import (
    CsvUploadForm,
    MetricForm,
    ObservationForm,
    PredictionForm,
    ResolveForm,
    parse_observation_csv,
)
from .models import Kind, Metric, MetricSource, Observation, Prediction
from .outside_view import outside_view
from .trajectory import parse_line

OBSERVATIONS_PER_PAGE = 25


def _with_next(request: HttpRequest, url: str) -> str:
    target = safe_next(request)
    return f"{url}?{urlencode({'next': target})}" if target else url


def _metric(request: TeamRequest, pk: int) -> Metric:
    metric = team_get_object_or_404(request, Metric, pk=pk)
    metric.team = request.team
    return metric


def _prediction(request: TeamRequest, pk: int) -> Prediction:
    prediction = team_get_object_or_404(
        request, Prediction.objects.select_related("metric", "author", "resolution"), pk=pk
    )
    prediction.team = prediction.metric.team = request.team
    return prediction


def _author_colors(predictions) -> dict[int, str]:
    colors: dict[int, str] = {}
    for p in predictions:
        colors.setdefault(p.author_id, charts.color_for(len(colors)))
    return colors


def _chart_lines(predictions, colors, superseded: set[int], today) -> list[charts.ChartLine]:
    until = services.years_after(today, services.MAX_HORIZON_YEARS)
    out = []
    for p in predictions:
        if not p.is_line:
            continue
        traj, band = p.line
        out.append(
            charts.line_for(
                traj,
                band,
                p.horizon,
                until=until,
                key=str(p.pk),
                label=p.title,
                group=p.author.display_name,
                color=colors[p.author_id],
                dimmed=p.pk in superseded,
                draft=not p.is_committed,
            )
        )
    return out


def _thresholds(predictions, colors, unit: str) -> list[dict]:
    from .trajectory import format_probability, format_value

    return [
        {
            "date": p.horizon.isoformat(),
            "value": p.threshold_value,
            "label": f"{p.title}: {format_value(p.threshold_value, unit)} by {p.horizon} "
            f"({format_probability(p.probability)})",
            "group": p.author.display_name,
            "color": colors[p.author_id],
        }
        for p in predictions
        if not p.is_line
    ]


# --------------------------------------------------------------------------- metrics
@team_view
def metric_list(request: TeamRequest) -> HttpResponse:
    metrics = (
        Metric.objects.for_team(request.team)
        .annotate(
            n_observations=Count("observations", distinct=True),
            last_observed=Max("observations__observed_at"),
            n_committed_all=Count(
                "predictions", filter=Q(predictions__committed_at__isnull=False), distinct=True
            ),
            n_superseded=Count(
                "predictions",
                filter=Q(predictions__revisions__committed_at__isnull=False),
                distinct=True,
            ),
            n_drafts=Count(
                "predictions", filter=Q(predictions__committed_at__isnull=True), distinct=True
            ),
        )
        .select_related("source", "push")  # the "connected" badge, in the same query
        .order_by("name")
    )
    rows = list(metrics)
    now = timezone.now()
    for m in rows:  # in force: a superseded prediction is counted apart
        m.n_committed = m.n_committed_all - m.n_superseded
        m.connected = connected.badge(
            getattr(m, "source", None), getattr(m, "push", None), now, request.team.tz
        )
    return render(request, "predictions/metric_list.html", {"metrics": rows})


@team_view
@require_http_methods(["GET", "POST"])
def metric_create(request: TeamRequest) -> HttpResponse:
    form = MetricForm(request.POST or None, team=request.team)
    if request.method == "POST" and form.is_valid():
        try:
            metric = services.create_metric(request.team, request.user, form.cleaned_data)
        except Invalid as error:
            add_to_form(form, error)
        else:
            messages.success(request, f"“{metric.name}” added. Record what has happened so far.")
            return redirect_after_post(request, metric.get_absolute_url())
    return render_form(request, "predictions/metric_form.html", {"form": form, "metric": None})


@team_view
@require_http_methods(["GET", "POST"])
def metric_edit(request: TeamRequest, pk: int) -> HttpResponse:
    metric = _metric(request, pk)
    form = MetricForm(request.POST or None, instance=metric, team=request.team)
    if request.method == "POST" and form.is_valid():
        try:
            services.update_metric(metric, form.cleaned_data)
        except Invalid as error:
            add_to_form(form, error)
        else:
            messages.success(request, "Metric saved.")
            return redirect_after_post(request, metric.get_absolute_url())
    return render_form(request, "predictions/metric_form.html", {"form": form, "metric": metric})


def _observation_page(metric: Metric, page: int | str = 1):
    qs = Observation.objects.filter(metric=metric).select_related("entered_by")
    paginator = Paginator(qs.order_by("-observed_at"), OBSERVATIONS_PER_PAGE)
    return paginator.get_page(page)


def _observations_context(request, metric, form=None, page=1):
    page_obj = _observation_page(metric, page)
    return {
        "metric": metric,
        "page_obj": page_obj,
        "obs_form": form or ObservationForm(metric=metric, today=request.team.today()),
        "can_edit": request.membership.can_edit,
    }


@team_view
def metric_detail(request: TeamRequest, pk: int) -> HttpResponse:
    metric = _metric(request, pk)
    series = services.Series.load(metric)
    predictions = list(
        Prediction.objects.filter(metric=metric)
        .with_successor()
        .select_related("author", "resolution")
        .order_by("made_at", "pk")
    )
    for p in predictions:
        p.metric, p.team = metric, request.team
    revealed = metric.team.anti_anchoring and services.has_revealed(request.user, metric)
    vis = services.visible_to(request.user, metric, predictions, revealed)
    superseded = {p.pk for p in predictions if p.is_superseded}
    colors = _author_colors(vis.visible)
    today = request.team.today()
    figure = charts.metric_figure(
        name=metric.name,
        unit=metric.unit,
        log=metric.is_log,
        obs_t=series.t,
        obs_values=series.values,
        lines=_chart_lines(vis.visible, colors, superseded, today),
        today=today,
        fy_start_month=request.team.fiscal_year_start_month,
        thresholds=_thresholds(vis.visible, colors, metric.unit),
    )
    scored = [services.score_prediction(p, series) for p in vis.visible]
    context = {
        "metric": metric,
        "figure": figure,
        "scored": scored,
        "superseded": superseded,
        "visibility": vis,
        "n_observations": len(series),
        "source": MetricSource.objects.filter(metric=metric).first(),
        **_observations_context(request, metric, page=request.GET.get("page", 1)),
    }
    return render(request, "predictions/metric_detail.html", context)


@team_view
@require_http_methods(["GET", "POST"])
def observations(request: TeamRequest, pk: int) -> HttpResponse:
    """GET: a page of the table (htmx). POST: add (or re-enter) one observation."""
    metric = _metric(request, pk)
    if request.method == "GET":
        ctx = _observations_context(request, metric, page=request.GET.get("page", 1))
        return render(request, "predictions/metric_detail.html#observations", ctx)
    form = ObservationForm(request.POST, metric=metric, today=request.team.today())
    result = None
    if form.is_valid():
        d = form.cleaned_data
        row = services.ObservationRow(d["observed_at"], d["value"], d["source"])
        try:
            result = services.record_observations(metric, [row], request.user)
        except Invalid as error:
            add_to_form(form, error, ObservationForm.FIELD_OF)
    if result is None:
        ctx = _observations_context(request, metric, form=form)
        return render(request, "predictions/metric_detail.html#observations", ctx, status=400)
    if result.updated:
        messages.info(
            request, f"{d['observed_at']} already had a value: updated (kept in history)."
        )
    if result.resolved:
        n = len(result.resolved)
        messages.success(request, f"{n} threshold prediction{'' if n == 1 else 's'} resolved.")
    if request.htmx:
        # Redraw the chart and scores too: a full-page refresh is the honest update.
        return HttpResponseClientRefresh()
    return redirect(metric.get_absolute_url())


@team_view
@require_http_methods(["GET", "POST"])
def observation_edit(request: TeamRequest, pk: int, obs_pk: int) -> HttpResponse:
    metric = _metric(request, pk)
    obs = team_get_object_or_404(request, Observation, pk=obs_pk, metric=metric)
    today = request.team.today()
    if request.method == "POST":
        form = ObservationForm(request.POST, metric=metric, today=today)
        if form.is_valid() and form.cleaned_data["observed_at"] != obs.observed_at:
            form.add_error("observed_at", "The date identifies the row: add a new date instead.")
        if form.is_valid():
            d = form.cleaned_data
            row = services.ObservationRow(obs.observed_at, d["value"], d["source"])
            try:
                services.record_observations(metric, [row], request.user)
            except Invalid as error:
                add_to_form(form, error, ObservationForm.FIELD_OF)
        if form.is_valid():
            obs.refresh_from_db()
            return render(
                request,
                "predictions/metric_detail.html#observation_row",
                {"obs": obs, "metric": metric, "can_edit": True},
            )
        status = 400
    else:
        form = ObservationForm(
            initial={"observed_at": obs.observed_at, "value": obs.value, "source": obs.source},
            metric=metric,
            today=today,
        )
        status = 200
    return render(
        request,
        "predictions/metric_detail.html#observation_edit_row",
        {"obs": obs, "metric": metric, "form": form},
        status=status,
    )


@team_view
def observation_history(request: TeamRequest, pk: int, obs_pk: int) -> HttpResponse:
    metric = _metric(request, pk)
    obs = team_get_object_or_404(request, Observation, pk=obs_pk, metric=metric)
    changes = obs.changes.select_related("changed_by")
    return render(
        request,
        "predictions/observation_history.html",
        {"metric": metric, "obs": obs, "changes": changes},
    )


@team_view
@require_http_methods(["GET", "POST"])
def observations_upload(request: TeamRequest, pk: int) -> HttpResponse:
    metric = _metric(request, pk)
    form = CsvUploadForm(request.POST or None, request.FILES or None)
    errors: list[csvimport.Problem] = []
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            parsed = parse_observation_csv(form.cleaned_data["file"], metric, request.team.today())
            errors = parsed.errors
            result = None
            if not errors:
                rows = [services.ObservationRow(*row) for row in parsed.rows]
                try:
                    result = services.record_observations(metric, rows, request.user, via="csv")
                except Invalid as error:
                    errors = [
                        csvimport.Problem(None, f"{k}: {' '.join(v)}")
                        for k, v in error.fields.items()
                    ]
            if result is not None:
                messages.success(
                    request,
                    f"Imported {len(parsed.rows)} rows: {result.created} new, "
                    f"{result.updated} updated, {result.unchanged} unchanged.",
                )
                return redirect_after_post(request, metric.get_absolute_url())
    context = {"metric": metric, "form": form, "csv_errors": errors}
    return render_form(request, "predictions/upload.html", context, status=status)


@team_view
def observations_export(request: TeamRequest, pk: int) -> HttpResponse:
    metric = _metric(request, pk)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    filename = f"{request.team.slug}-metric-{metric.pk}-observations.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    writer = csv.writer(response)
    writer.writerow(["date", "value", "source"])
    rows = metric.observations.order_by("observed_at").values_list("observed_at", "value", "source")
    for observed_at, value, source in rows.iterator(chunk_size=5000):
        writer.writerow([observed_at.isoformat(), repr(value), csv_cell(source)])
    return response


@team_view(write_role=Role.VIEWER)
@require_POST
def reveal(request: TeamRequest, pk: int) -> HttpResponse:
    metric = _metric(request, pk)
    services.reveal(metric, request.user)
    return redirect_after_post(request, metric.get_absolute_url())


reveal.viewer_may_post = True  # type: ignore[attr-defined]  # a marker the tenancy test reads


# --------------------------------------------------------------------------- predictions
def _preview_figure(request, metric: Metric, form: PredictionForm, series=None) -> dict | None:
    series = series or services.Series.load(metric)
    lines = []
    thresholds = []
    if form.is_bound and form.is_valid():
        d = form.cleaned_data
        if d["kind"] == Kind.LINE:
            traj, band = parse_line(*form.line_json(), d["horizon"], metric.scale)
            lines.append(
                charts.line_for(
                    traj,
                    band,
                    d["horizon"],
                    key="preview",
                    label=d["title"] or "Your line",
                    group="Preview",
                    color=charts.color_for(0),
                )
            )
        else:
            thresholds.append(
                {
                    "date": d["horizon"].isoformat(),
                    "value": d["threshold_value"],
                    "label": d["title"],
                    "group": "Preview",
                    "color": charts.color_for(0),
                }
            )
    return charts.metric_figure(
        name=metric.name,
        unit=metric.unit,
        log=metric.is_log,
        obs_t=series.t,
        obs_values=series.values,
        lines=lines,
        today=request.team.today(),
        fy_start_month=request.team.fiscal_year_start_month,
        thresholds=thresholds,
    )


def _outside_view(metric: Metric, form: PredictionForm, series=None):
    """The outside view of a valid line in the form (pure maths), else None."""
    if not (form.is_bound and form.is_valid()) or form.cleaned_data["kind"] != Kind.LINE:
        return None
    d = form.cleaned_data
    traj, _ = parse_line(*form.line_json(), d["horizon"], metric.scale)
    series = series or services.Series.load(metric)
    return outside_view(
        traj, d["horizon"], series.t, series.values, series.versions, unit=metric.unit
    )


def _track_record(request) -> scoring.BiasReport | None:
    """The author's own calibration over their committed, scored lines (all metrics)."""
    board = services.calibration(request.team, request.user)
    return next((r["report"] for r in board.leaderboard if r["lines"]), None)


def _form_page(request, metric, form, *, prediction=None, supersedes=None, status=200):
    series = services.Series.load(metric)
    return render_form(
        request,
        "predictions/prediction_form.html",
        {
            "metric": metric,
            "form": form,
            "prediction": prediction,
            "supersedes": supersedes,
            "figure": _preview_figure(request, metric, form, series),
            "outside": _outside_view(metric, form, series),
            "track_record": _track_record(request),
        },
        status=status,
    )


@team_view
@require_http_methods(["GET", "POST"])
def prediction_create(request: TeamRequest, pk: int) -> HttpResponse:
    metric = _metric(request, pk)
    form = PredictionForm(
        request.POST or None, metric=metric, user=request.user, initial=_default_initial(metric)
    )
    if request.method == "POST":
        if form.is_valid():
            try:
                prediction = services.create_prediction(metric, request.user, form.stated)
            except Invalid as error:
                add_to_form(form, error, PredictionForm.FIELD_OF)
            else:
                messages.success(
                    request, "Draft saved. Commit it to freeze it before evidence arrives."
                )
                url = _with_next(request, prediction.get_absolute_url())
                return redirect_after_post(request, url)
        return _form_page(request, metric, form, status=400)
    return _form_page(request, metric, form)


def _default_initial(metric: Metric) -> dict:
    last = metric.observations.order_by("-observed_at").values_list("observed_at", "value").first()
    initial: dict = {"model": "exponential" if metric.is_log else "linear", "coverage": 0.8}
    if last:
        initial.update(baseline_date=last[0], baseline_value=last[1])
    if metric.is_log:
        initial.update(band_low=0.5, band_high=2)
    return initial


@team_view
def prediction_preview(request: TeamRequest, pk: int) -> HttpResponse:
    """The live preview chart: GET with the form's fields (htmx, on every change)."""
    metric = _metric(request, pk)
    form = PredictionForm(request.GET, metric=metric, user=request.user)
    series = services.Series.load(metric)
    return render(
        request,
        "predictions/prediction_form.html#preview",
        {
            "figure": _preview_figure(request, metric, form, series),
            "outside": _outside_view(metric, form, series),
            "form": form,
            "metric": metric,
        },
    )


@team_view
def prediction_detail(request: TeamRequest, pk: int) -> HttpResponse:
    return _detail_page(request, _prediction(request, pk))


def _detail_page(request, prediction: Prediction, resolve_form=None, status=200) -> HttpResponse:
    metric = prediction.metric
    if metric.team.anti_anchoring and prediction.author_id != request.user.pk:
        own = Prediction.objects.filter(metric=metric, author=request.user).committed().exists()
        if not own and not services.has_revealed(request.user, metric):
            return render(
                request, "predictions/hidden.html", {"metric": metric, "prediction": prediction}
            )
    series = services.Series.load(metric)
    chain = services.revision_chain(prediction)
    for i, p in enumerate(chain):
        p.metric, p.team = metric, request.team
        p.set_successor(chain[i + 1] if i + 1 < len(chain) else None)
    prediction.set_successor(next((p for p in chain if p.supersedes_id == prediction.pk), None))
    colors = {p.author_id: charts.color_for(0) for p in chain}
    superseded = {p.supersedes_id for p in chain if p.is_committed and p.supersedes_id}
    today = request.team.today()
    figure = charts.metric_figure(
        name=metric.name,
        unit=metric.unit,
        log=metric.is_log,
        obs_t=series.t,
        obs_values=series.values,
        lines=_chart_lines(chain, colors, superseded, today),
        today=today,
        fy_start_month=request.team.fiscal_year_start_month,
        thresholds=_thresholds([prediction], colors, metric.unit),
    )
    score = services.score_prediction(prediction, series)
    if resolve_form is None and not prediction.is_line:
        resolve_form = ResolveForm()
    return render(
        request,
        "predictions/prediction_detail.html",
        {
            "prediction": prediction,
            "metric": metric,
            "chain": chain if len(chain) > 1 else [],
            "figure": figure,
            "score": score,
            "rows": score.rows(limit=200),
            "is_author": prediction.author_id == request.user.pk,
            "superseded": prediction.pk in superseded,
            "resolve_form": resolve_form,
        },
        status=status,
    )


def _own_draft(request, pk: int) -> Prediction:
    prediction = _prediction(request, pk)
    if prediction.author_id != request.user.pk:
        raise Http404("Only the author can change a draft.")
    return prediction


@team_view
@require_http_methods(["GET", "POST"])
def prediction_edit(request: TeamRequest, pk: int) -> HttpResponse:
    prediction = _own_draft(request, pk)
    if prediction.is_committed:
        messages.info(request, "A committed prediction cannot change: revise it instead.")
        return redirect(prediction.get_absolute_url())
    metric = prediction.metric
    form = PredictionForm(
        request.POST or None,
        metric=metric,
        user=request.user,
        supersedes=prediction.supersedes,
        initial=PredictionForm.initial_from(prediction),
    )
    if request.method == "POST":
        if form.is_valid():
            try:
                services.update_draft(prediction, request.user, form.stated)
            except Invalid as error:
                add_to_form(form, error, PredictionForm.FIELD_OF)
            else:
                messages.success(request, "Draft saved.")
                return redirect_after_post(request, prediction.get_absolute_url())
        return _form_page(request, metric, form, prediction=prediction, status=400)
    return _form_page(request, metric, form, prediction=prediction)


@team_view
@require_POST
def prediction_commit(request: TeamRequest, pk: int) -> HttpResponse:
    prediction = _own_draft(request, pk)
    try:
        services.commit_prediction(prediction)
    except services.CommitError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, "Committed: this line is now frozen and will be scored.")
        if safe_next(request):
            return redirect_after_post(request, safe_next(request))
    return redirect_after_post(request, _with_next(request, prediction.get_absolute_url()))


@team_view
@require_POST
def prediction_delete(request: TeamRequest, pk: int) -> HttpResponse:
    prediction = _own_draft(request, pk)
    if prediction.is_committed:
        messages.error(request, "A committed prediction is part of the record and stays.")
        return redirect_after_post(request, prediction.get_absolute_url())
    url = prediction.metric.get_absolute_url()
    try:
        services.delete_draft(prediction, request.user)
    except Invalid as error:
        messages.error(request, error.message)
        return redirect_after_post(request, prediction.get_absolute_url())
    messages.info(request, "Draft deleted.")
    return redirect_after_post(request, url)


@team_view
@require_http_methods(["GET", "POST"])
def prediction_revise(request: TeamRequest, pk: int) -> HttpResponse:
    old = _prediction(request, pk)
    if old.author_id != request.user.pk:
        raise Http404("Only the author can revise a prediction.")
    if not old.is_committed:
        return redirect("predictions:prediction_edit", team=request.team.slug, pk=old.pk)
    if old.revisions.filter(committed_at__isnull=False).exists():
        messages.info(request, "This prediction has already been revised: revise the latest one.")
        return redirect(old.get_absolute_url())
    metric = old.metric
    form = PredictionForm(
        request.POST or None,
        metric=metric,
        user=request.user,
        supersedes=old,
        initial=PredictionForm.initial_from(old),
    )
    if request.method == "POST":
        if form.is_valid():
            try:
                new = services.create_prediction(metric, request.user, form.stated, supersedes=old)
            except Invalid as error:
                add_to_form(form, error, PredictionForm.FIELD_OF)
            else:
                copied = " Its light and shade were copied over: edit them here."
                messages.success(
                    request,
                    "Revision saved as a draft; commit it to supersede the old line."
                    + (copied if new.notes_copied else ""),
                )
                return redirect_after_post(request, _with_next(request, new.get_absolute_url()))
        return _form_page(request, metric, form, supersedes=old, status=400)
    return _form_page(request, metric, form, supersedes=old)


@team_view
@require_POST
def prediction_resolve(request: TeamRequest, pk: int) -> HttpResponse:
    prediction = _prediction(request, pk)
    if prediction.is_line or not prediction.is_committed:
        raise Http404("Only committed threshold predictions are resolved.")
    form = ResolveForm(request.POST)
    if form.is_valid():
        d = form.cleaned_data
        try:
            services.resolve_by_hand(prediction, request.user, d["outcome"], d["note"])
        except Invalid as error:
            add_to_form(form, error)
    if not form.is_valid():
        # The page again, the form open with its messages and what was typed.
        return _detail_page(request, prediction, resolve_form=form, status=400)
    messages.success(request, "Resolved by hand.")
    return redirect_after_post(request, prediction.get_absolute_url())


# --------------------------------------------------------------------------- quarter, calibration
@team_view
def quarter_view(request: TeamRequest, quarter: str | None = None) -> HttpResponse:
    team = request.team
    try:
        q = (
            parse_quarter(quarter, team.fiscal_year_start_month)
            if quarter
            else current_quarter(team)
        )
    except ValueError as error:
        raise Http404(str(error)) from None
    rows = services.quarter_scores(team, q)
    return render(
        request,
        "predictions/quarter.html",
        {
            "quarter": q,
            "rows": rows,
            "report": services.team_report(rows),
            "previous": q.previous(),
            "next": q.next(),
        },
    )


@team_view
def calibration(request: TeamRequest) -> HttpResponse:
    from planning.accounts.models import User

    author = None
    if request.GET.get("author"):
        try:
            author = get_object_or_404(
                User, pk=int(request.GET["author"]), memberships__team=request.team
            )
        except ValueError:
            raise Http404 from None
    board = services.calibration(request.team, author)
    return render(
        request,
        "predictions/calibration.html",
        {
            "author": author,
            "leaderboard": board.leaderboard,
            "bands": board.bands,
            "bins": board.bins,
            "n_thresholds": board.n_thresholds,
            "report": board.report,
            "band_figure": charts.band_figure(board.bands) if board.bands else None,
            "reliability_figure": (
                charts.reliability_figure(board.bins) if board.n_thresholds else None
            ),
            "members": request.team.memberships.select_related("user"),
        },
    )
