"""The OpenAPI 3.1 description of /api/v1/ (served at /api/v1/openapi.json)."""

from __future__ import annotations

from typing import Any

ERROR = {"$ref": "#/components/responses/Error"}
TEAM = {"name": "team", "in": "path", "required": True, "schema": {"type": "string"},
        "description": "The team's address (slug), as in /t/<team>/."}  # fmt: skip
PK = {"name": "pk", "in": "path", "required": True, "schema": {"type": "integer"}}


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict, description: str = "OK") -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict:
    return {str(c): ERROR for c in (401, 404, *codes)}


SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {"type": "string"},
            "fields": {
                "type": "object",
                "description": "Messages per field; nested fields use dots and indexes, e.g. "
                "`trajectory.baseline_value`, `band.low`, `observations[3].value`.",
                "additionalProperties": {"type": "array", "items": {"type": "string"}},
            },
        },
    },
    "MetricInput": {
        "type": "object",
        "required": ["name"],
        "properties": {
            "name": {"type": "string", "maxLength": 200},
            "unit": {"type": "string", "maxLength": 30, "examples": ["minutes", "%", "$"]},
            "scale": {"type": "string", "enum": ["linear", "log"], "default": "log"},
            "higher_is_better": {"type": "boolean", "default": True},
            "description": {"type": "string"},
        },
    },
    "Metric": {
        "allOf": [
            _ref("MetricInput"),
            {
                "type": "object",
                "properties": {
                    "id": {"type": "integer"},
                    "definition_version": {"type": "integer"},
                    "version_note": {"type": "string"},
                    "created_at": {"type": "string", "format": "date-time"},
                },
            },
        ]
    },
    "Observation": {
        "type": "object",
        "required": ["date", "value"],
        "additionalProperties": False,
        "properties": {
            "date": {"type": "string", "format": "date", "description": "Not in the future."},
            "value": {"type": "number", "description": "Above 0 on log-scale metrics."},
            "source": {"type": "string", "maxLength": 500},
        },
    },
    "Trajectory": {
        "type": "object",
        "required": ["model"],
        "description": "exponential: baseline + doubling_months (or multiple_per_year); "
        "linear: baseline + change_per_year; logistic: baseline + ceiling + midpoint (or "
        "steepness per year); points: [[date, value], …] interpolated (in log space on log "
        "metrics).",
        "properties": {
            "model": {"type": "string", "enum": ["exponential", "linear", "logistic", "points"]},
            "baseline_date": {"type": "string", "format": "date"},
            "baseline_value": {"type": "number"},
            "doubling_months": {"type": "number"},
            "multiple_per_year": {"type": "number"},
            "change_per_year": {"type": "number"},
            "ceiling": {"type": "number"},
            "midpoint": {"type": "string", "format": "date"},
            "steepness": {"type": "number"},
            "points": {
                "type": "array",
                "items": {
                    "type": "array",
                    "prefixItems": [{"type": "string", "format": "date"}, {"type": "number"}],
                },
            },
        },
    },  # fmt: skip
    "Band": {
        "type": "object",
        "description": "low/high are factors on the line for log metrics (0.5, 2), offsets "
        "for linear ones (-5, 5); or explicit [[date, low, high], …] points.",
        "properties": {
            "coverage": {
                "type": "number",
                "exclusiveMinimum": 0,
                "exclusiveMaximum": 1,
                "default": 0.8,
            },
            "low": {"type": "number"},
            "high": {"type": "number"},
            "points": {"type": "array", "items": {"type": "array"}},
        },
    },  # fmt: skip
    "Threshold": {
        "type": "object",
        "required": ["value", "probability"],
        "properties": {
            "value": {"type": "number"},
            "above": {"type": "boolean", "default": True},
            "probability": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
        },
    },
    "PredictionInput": {
        "type": "object",
        "required": ["metric", "claim", "horizon"],
        "properties": {
            "metric": {"type": "integer"},
            "kind": {"type": "string", "enum": ["line", "threshold"], "default": "line"},
            "claim": {"type": "string", "maxLength": 200},
            "rationale": {"type": "string", "description": "Markdown."},
            "horizon": {"type": "string", "format": "date"},
            "trajectory": _ref("Trajectory"),
            "band": _ref("Band"),
            "threshold": _ref("Threshold"),
            "supersedes": {"type": "integer", "description": "Revise a committed prediction."},
            "commit": {"type": "boolean", "default": False, "description": "Commit at once."},
        },
    },
    "Prediction": {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "metric": {"type": "integer"},
            "author": {"type": "string", "format": "email"},
            "kind": {"type": "string", "enum": ["line", "threshold"]},
            "claim": {"type": "string"},
            "rationale": {"type": "string"},
            "made_at": {"type": "string", "format": "date-time"},
            "horizon": {"type": "string", "format": "date"},
            "status": {"type": "string", "enum": ["draft", "committed", "superseded"]},
            "committed_at": {"type": ["string", "null"], "format": "date-time"},
            "content_hash": {"type": ["string", "null"], "description": "SHA-256, hex."},
            "supersedes": {"type": ["integer", "null"]},
            "superseded_by": {
                "type": ["integer", "null"],
                "description": "The committed revision that replaced this line.",
            },
            "unit": {"type": "string", "description": "The metric's unit."},
            "definition_version": {"type": "integer"},
            "trajectory": {"oneOf": [_ref("Trajectory"), {"type": "null"}]},
            "band": {"oneOf": [_ref("Band"), {"type": "null"}]},
            "threshold": {"oneOf": [_ref("Threshold"), {"type": "null"}]},
            "description": {"type": "string", "description": "The line in words."},
        },
    },
    "Scores": {
        "type": "object",
        "properties": {
            "prediction": {"type": "integer"},
            "status": {"type": "string", "enum": ["draft", "committed", "superseded"]},
            "superseded_by": {"type": ["integer", "null"]},
            "unit": {
                "type": "string",
                "description": "Unit of values, CRPS and interval scores (the metric's).",
            },
            "summary": {
                "type": ["object", "null"],
                "properties": {
                    "n": {"type": "integer"},
                    "mean_abs_error": {"type": ["number", "null"]},
                    "error_kind": {"type": "string", "enum": ["log10", "relative"]},
                    "mean_crps": {"type": ["number", "null"]},
                    "mean_interval_score": {"type": ["number", "null"]},
                    "coverage_stated": {"type": "number"},
                    "coverage_observed": {"type": ["number", "null"]},
                    "bias": {
                        "type": ["number", "null"],
                        "description": "Geometric mean of actual/predicted.",
                    },
                    "typical_miss": {
                        "type": ["number", "null"],
                        "description": "exp(mean |ln(actual/predicted)|): the size of the miss.",
                    },
                    "bias_phrase": {"type": "string"},
                    "bias_sentence": {"type": "string"},
                    "definition_changed": {"type": "integer"},
                },
            },
            "points": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "date": {"type": "string", "format": "date"},
                        "actual": {"type": "number"},
                        "median": {"type": "number"},
                        "low": {"type": "number"},
                        "high": {"type": "number"},
                        "error": {"type": "number"},
                        "inside": {"type": "boolean"},
                        "percentile": {"type": "number"},
                        "interval": {"type": "number"},
                        "crps": {"type": "number"},
                    },
                },
            },
            "resolution": {"type": ["object", "null"]},
            "brier": {"type": ["number", "null"]},
            "log_score": {"type": ["number", "null"]},
        },
    },  # fmt: skip
}


def document(server_url: str) -> dict:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Exponent API",
            "version": "1",
            "description": "Metrics, observations and predictions (Lines on Graphs). "
            "Authenticate with a per-user token: `Authorization: Bearer <token>`. Another "
            "team's resources answer 404; changes need the editor role. Errors are JSON with "
            "`error` and per-field `fields` messages.",
        },
        "servers": [{"url": server_url}],
        "security": [{"bearer": []}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": SCHEMAS,
            "responses": {"Error": _json(_ref("Error"), "Error (see `fields`)")},
        },
        "paths": {
            "/t/{team}/metrics/": {
                "parameters": [TEAM],
                "get": {"operationId": "listMetrics", "summary": "List the team's metrics",
                        "responses": {"200": _json({"type": "object", "properties": {
                            "metrics": {"type": "array", "items": _ref("Metric")}}}),
                            **_errors()}},
                "post": {"operationId": "createMetric", "summary": "Create a metric",
                         "requestBody": {"required": True, "content": {
                             "application/json": {"schema": _ref("MetricInput")}}},
                         "responses": {"201": _json(_ref("Metric"), "Created"),
                                       **_errors(400, 403)}},
            },
            "/t/{team}/metrics/{pk}/": {
                "parameters": [TEAM, PK],
                "get": {"operationId": "getMetric", "summary": "One metric",
                        "responses": {"200": _json(_ref("Metric")), **_errors()}},
            },
            "/t/{team}/metrics/{pk}/observations/": {
                "parameters": [TEAM, PK],
                "get": {"operationId": "listObservations", "summary": "All observations",
                        "responses": {"200": _json({"type": "object", "properties": {
                            "observations": {"type": "array", "items": _ref("Observation")}}}),
                            **_errors()}},
                "post": {"operationId": "upsertObservations",
                         "summary": "Batch upsert (idempotent on metric and date; all or "
                                    "nothing; changed values keep a history)",
                         "requestBody": {"required": True, "content": {"application/json": {
                             "schema": {"type": "object", "required": ["observations"],
                                        "properties": {"observations": {
                                            "type": "array", "maxItems": 10000,
                                            "items": _ref("Observation")}}}}}},
                         "responses": {"200": _json({"type": "object", "properties": {
                             "created": {"type": "integer"}, "updated": {"type": "integer"},
                             "unchanged": {"type": "integer"},
                             "resolved_predictions": {"type": "array",
                                                      "items": {"type": "integer"}}}}),
                             **_errors(400, 403)}},
            },
            "/t/{team}/predictions/": {
                "parameters": [TEAM],
                "get": {"operationId": "listPredictions",
                        "summary": "Predictions you may see (anti-anchoring applies)",
                        "parameters": [{"name": "metric", "in": "query",
                                        "schema": {"type": "integer"}}],
                        "responses": {"200": _json({"type": "object", "properties": {
                            "predictions": {"type": "array", "items": _ref("Prediction")}}}),
                            **_errors(400)}},
                "post": {"operationId": "createPrediction",
                         "summary": "Create a draft (or commit at once with commit=true)",
                         "requestBody": {"required": True, "content": {
                             "application/json": {"schema": _ref("PredictionInput")}}},
                         "responses": {"201": _json(_ref("Prediction"), "Created"),
                                       **_errors(400, 403)}},
            },
            "/t/{team}/predictions/{pk}/": {
                "parameters": [TEAM, PK],
                "get": {"operationId": "getPrediction", "summary": "One prediction",
                        "responses": {"200": _json(_ref("Prediction")), **_errors()}},
            },
            "/t/{team}/predictions/{pk}/commit/": {
                "parameters": [TEAM, PK],
                "post": {"operationId": "commitPrediction",
                         "summary": "Freeze a draft: records committed_at and the SHA-256",
                         "responses": {"200": _json(_ref("Prediction")),
                                       **_errors(403, 409)}},
            },
            "/t/{team}/predictions/{pk}/scores/": {
                "parameters": [TEAM, PK],
                "get": {"operationId": "getScores", "summary": "Scores against observations",
                        "responses": {"200": _json(_ref("Scores")), **_errors()}},
            },
        },
    }  # fmt: skip
