-- The devportal: application plans, applications, subscriptions, client keys, signing keys and
-- access tokens. Forward-only: never edit once applied.

-- Application-level plans: events per time unit across all of an application's subscriptions.
-- event_count NULL means no limit.
CREATE TABLE application_plans (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name         text NOT NULL UNIQUE,
    display_name text NOT NULL,
    description  text NOT NULL DEFAULT '',
    event_count  bigint CHECK (event_count IS NULL OR event_count > 0),
    time_unit    text CHECK (time_unit IN ('sec', 'min', 'hour', 'day')),
    unit_time    integer CHECK (unit_time IS NULL OR unit_time > 0),
    CHECK ((event_count IS NULL) = (time_unit IS NULL) AND (event_count IS NULL) = (unit_time IS NULL))
);

INSERT INTO application_plans (name, display_name, description, event_count, time_unit, unit_time) VALUES
    ('Unlimited', 'Unlimited', 'No limit across the application''s subscriptions', NULL, NULL, NULL),
    ('50PerMin', '50PerMin', '50 events per minute across the application''s subscriptions', 50, 'min', 1),
    ('20PerMin', '20PerMin', '20 events per minute across the application''s subscriptions', 20, 'min', 1),
    ('10PerMin', '10PerMin', '10 events per minute across the application''s subscriptions', 10, 'min', 1);

CREATE TABLE applications (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name        text NOT NULL,
    owner_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    description text NOT NULL DEFAULT '',
    plan_id     uuid NOT NULL REFERENCES application_plans (id),
    token_type  text NOT NULL DEFAULT 'JWT' CHECK (token_type = 'JWT'),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX applications_owner_name_key ON applications (owner_id, lower(name));

CREATE TABLE subscriptions (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    application_id uuid NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
    api_id         uuid NOT NULL REFERENCES apis (id) ON DELETE RESTRICT,
    plan_id        uuid NOT NULL REFERENCES business_plans (id),
    status         text NOT NULL DEFAULT 'UNBLOCKED' CHECK (status IN ('UNBLOCKED', 'BLOCKED', 'PROD_ONLY_BLOCKED')),
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT subscriptions_application_api_key UNIQUE (application_id, api_id)
);
CREATE INDEX subscriptions_api_idx ON subscriptions (api_id);
CREATE INDEX subscriptions_plan_idx ON subscriptions (plan_id);

-- OAuth2 client credentials of an application, one pair per key type. The secret is kept only as
-- a bcrypt hash.
CREATE TABLE application_keys (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    application_id uuid NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
    key_type       text NOT NULL CHECK (key_type IN ('PRODUCTION', 'SANDBOX')),
    consumer_key   text NOT NULL UNIQUE,
    secret_hash    text NOT NULL,
    grant_types    text[] NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT application_keys_application_type_key UNIQUE (application_id, key_type)
);

-- RS256 signing keys. The private key is AES-GCM encrypted with PORTICO_SECRET_KEY. A retired key
-- stays published in the JWKS until publish_until, when every token it signed has expired.
CREATE TABLE signing_keys (
    kid                   text PRIMARY KEY,
    algorithm             text NOT NULL DEFAULT 'RS256' CHECK (algorithm = 'RS256'),
    public_key_pem        text NOT NULL,
    private_key_encrypted bytea NOT NULL,
    created_at            timestamptz NOT NULL DEFAULT now(),
    retired_at            timestamptz,
    publish_until         timestamptz
);
CREATE UNIQUE INDEX signing_keys_one_active ON signing_keys ((true)) WHERE retired_at IS NULL;

-- Every access token issued (never the token itself): for introspection and for revoking the
-- tokens of a deleted application.
CREATE TABLE access_tokens (
    jti            text PRIMARY KEY,
    application_id uuid NOT NULL,
    key_id         uuid NOT NULL,
    consumer_key   text NOT NULL,
    key_type       text NOT NULL,
    subject        text NOT NULL,
    scope          text NOT NULL DEFAULT '',
    issued_at      timestamptz NOT NULL,
    expires_at     timestamptz NOT NULL
);
CREATE INDEX access_tokens_application_idx ON access_tokens (application_id);
CREATE INDEX access_tokens_expiry_idx ON access_tokens (expires_at);

-- Revoked token ids, kept until the token would have expired anyway.
CREATE TABLE revoked_tokens (
    jti        text PRIMARY KEY,
    expires_at timestamptz NOT NULL,
    revoked_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX revoked_tokens_expiry_idx ON revoked_tokens (expires_at);
