-- The change log: every change a gateway must see, one row each, numbered in commit order.
-- Stores insert a row inside the changing transaction (ChangeNotifier.announce); when that
-- transaction commits, a deferred trigger takes the log's lock, gives the row the next `seq` and
-- sends `NOTIFY portico_changes` with the change as JSON. The lock is held until the commit is
-- visible, so a row with `seq` N is visible before N + 1 is given: a gateway that has applied N
-- and reads `seq > N` misses nothing. A rolled-back change never gets a number. The last change
-- a transaction made says so (`ends_transaction`): a gateway acts on a transaction's changes
-- together (deleting an application revokes its tokens too: one close, with the code for the whole).
-- Rows older than an hour are pruned as new ones arrive; a gateway away longer reloads in full.
-- Forward-only: never edit once applied.
CREATE SEQUENCE change_seq;

CREATE TABLE changes (
    position   bigserial PRIMARY KEY,
    seq        bigint UNIQUE,
    entity     text NOT NULL,
    action     text NOT NULL,
    id         text NOT NULL,
    -- For a subscription or an application key: its application (the row may be gone).
    application_id text,
    state      text,
    expires_at text,
    ends_transaction boolean,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX changes_created ON changes (created_at);
-- Only the committing transaction's own rows are unnumbered (no other's is visible before its commit).
CREATE INDEX changes_unnumbered ON changes (position) WHERE seq IS NULL;

CREATE FUNCTION changes_number() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    assigned bigint;
    ends boolean;
BEGIN
    -- One committing transaction at a time numbers its changes (the key is the log's own).
    PERFORM pg_advisory_xact_lock(7305727385146277);
    assigned := nextval('change_seq');
    -- Deferred triggers fire in the order the rows were inserted: the last unnumbered row is the last change.
    ends := NOT EXISTS (SELECT 1 FROM changes WHERE seq IS NULL AND position <> NEW.position);
    UPDATE changes SET seq = assigned, ends_transaction = ends WHERE position = NEW.position;
    PERFORM pg_notify('portico_changes', json_build_object(
        'seq', assigned, 'entity', NEW.entity, 'action', NEW.action, 'id', NEW.id,
        'applicationId', NEW.application_id, 'state', NEW.state, 'expiresAt', NEW.expires_at,
        'endsTransaction', ends)::text);
    IF assigned % 500 = 0 THEN
        DELETE FROM changes WHERE created_at < now() - interval '1 hour';
    END IF;
    RETURN NULL;
END
$$;

CREATE CONSTRAINT TRIGGER changes_number AFTER INSERT ON changes
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION changes_number();
