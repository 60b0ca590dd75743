-- Personal access tokens: what the `portico` CLI (or any script) signs in with instead of keeping
-- a password. The secret is shown once and stored only as a bcrypt hash; a token expires, and is
-- revoked by deleting it (logout).
-- Forward-only: never edit once applied.
CREATE TABLE personal_access_tokens (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name        text NOT NULL,
    secret_hash text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL
);
CREATE INDEX personal_access_tokens_user ON personal_access_tokens (user_id);
