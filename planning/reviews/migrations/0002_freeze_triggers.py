"""Database-level immutability for closed reviews and their plan snapshots."""

from django.db import migrations

SQL = r"""
CREATE OR REPLACE FUNCTION reviews_refuse_snapshot_update() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'plan snapshots are immutable (review %, version %)', OLD.review_id, OLD.number
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER reviews_plansnapshot_immutable
    BEFORE UPDATE ON reviews_plansnapshot
    FOR EACH ROW EXECUTE FUNCTION reviews_refuse_snapshot_update();

CREATE OR REPLACE FUNCTION reviews_refuse_closed_change() RETURNS trigger AS $$
DECLARE
    review_status text;
BEGIN
    SELECT status INTO review_status FROM reviews_review WHERE id = NEW.review_id;
    IF review_status = 'closed' THEN
        RAISE EXCEPTION 'review % is closed; reopen it to change %', NEW.review_id, TG_TABLE_NAME
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION reviews_refuse_closed_commitment() RETURNS trigger AS $$
DECLARE
    review_status text;
BEGIN
    SELECT status INTO review_status FROM reviews_review WHERE id = NEW.review_id;
    IF review_status <> 'closed' THEN
        RETURN NEW;
    END IF;
    IF TG_OP = 'UPDATE' THEN
        -- Whether a commitment was met is recorded later; the commitment itself is frozen.
        IF NEW.what = OLD.what AND NEW.owner_id = OLD.owner_id
           AND NEW.due_date = OLD.due_date AND NEW.review_id = OLD.review_id THEN
            RETURN NEW;
        END IF;
    END IF;
    RAISE EXCEPTION 'review % is closed; reopen it to change its commitments', NEW.review_id
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER reviews_stepnote_frozen BEFORE INSERT OR UPDATE ON reviews_stepnote
    FOR EACH ROW EXECUTE FUNCTION reviews_refuse_closed_change();
CREATE TRIGGER reviews_decision_frozen BEFORE INSERT OR UPDATE ON reviews_decision
    FOR EACH ROW EXECUTE FUNCTION reviews_refuse_closed_change();
CREATE TRIGGER reviews_backlogitem_frozen BEFORE INSERT OR UPDATE ON reviews_backlogitem
    FOR EACH ROW EXECUTE FUNCTION reviews_refuse_closed_change();
CREATE TRIGGER reviews_commitment_frozen BEFORE INSERT OR UPDATE ON reviews_commitment
    FOR EACH ROW EXECUTE FUNCTION reviews_refuse_closed_commitment();
"""

REVERSE = r"""
DROP TRIGGER IF EXISTS reviews_plansnapshot_immutable ON reviews_plansnapshot;
DROP TRIGGER IF EXISTS reviews_stepnote_frozen ON reviews_stepnote;
DROP TRIGGER IF EXISTS reviews_decision_frozen ON reviews_decision;
DROP TRIGGER IF EXISTS reviews_backlogitem_frozen ON reviews_backlogitem;
DROP TRIGGER IF EXISTS reviews_commitment_frozen ON reviews_commitment;
DROP FUNCTION IF EXISTS reviews_refuse_snapshot_update();
DROP FUNCTION IF EXISTS reviews_refuse_closed_change();
DROP FUNCTION IF EXISTS reviews_refuse_closed_commitment();
"""


class Migration(migrations.Migration):
    dependencies = [("reviews", "0001_initial")]

    operations = [migrations.RunSQL(SQL, REVERSE)]
