-- Browser sessions of the publisher console and the developer portal. The cookie carries a random
-- value; only its SHA-256 is stored, so a copy of this table signs nobody in. A session ends when
-- it is idle too long, at its absolute expiry, at sign-out, or when its user is deleted.
-- Forward-only: never edit once applied.
CREATE TABLE web_sessions (
    id_hash      bytea PRIMARY KEY,
    portal       text NOT NULL CHECK (portal IN ('publisher', 'devportal')),
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf_token   text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL
);
CREATE INDEX web_sessions_user ON web_sessions (user_id);
CREATE INDEX web_sessions_expires ON web_sessions (expires_at);
