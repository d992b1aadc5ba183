"""The database itself refuses changes to a committed prediction's committed fields.

Committing (committed_at NULL -> a time, with its hash) is the last allowed change; after
that any UPDATE touching the listed columns raises, whatever the client. Deleting is still
possible so that a team (or a metric) can be removed as a whole.
"""

from django.db import migrations

COLUMNS = [
    "team_id",
    "metric_id",
    "author_id",
    "kind",
    "title",
    "rationale",
    "made_at",
    "horizon",
    "trajectory",
    "band",
    "threshold_value",
    "threshold_above",
    "probability",
    "definition_version",
    "supersedes_id",
    "committed_at",
    "content_hash",
]
CHANGED = "\n        OR ".join(f"NEW.{c} IS DISTINCT FROM OLD.{c}" for c in COLUMNS)

SQL = f"""
CREATE OR REPLACE FUNCTION predictions_refuse_committed_change() RETURNS trigger AS $$
BEGIN
    IF OLD.committed_at IS NOT NULL AND (
        {CHANGED}
    ) THEN
        RAISE EXCEPTION 'prediction % is committed and cannot be changed; revise it instead', OLD.id
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER predictions_prediction_immutable
    BEFORE UPDATE ON predictions_prediction
    FOR EACH ROW EXECUTE FUNCTION predictions_refuse_committed_change();
"""

REVERSE = """
DROP TRIGGER IF EXISTS predictions_prediction_immutable ON predictions_prediction;
DROP FUNCTION IF EXISTS predictions_refuse_committed_change();
"""


class Migration(migrations.Migration):
    dependencies = [("predictions", "0001_initial")]

    operations = [migrations.RunSQL(SQL, REVERSE)]
