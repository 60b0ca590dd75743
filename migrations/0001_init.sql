-- Portico's first schema: users and roles, business plans, WebSocket APIs and their lifecycle.
-- Forward-only: never edit this file once applied; add 0002_….sql instead.

CREATE TABLE users (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    username      text NOT NULL,
    password_hash text NOT NULL,
    email         text,
    roles         text[] NOT NULL CHECK (roles <@ ARRAY['admin', 'creator', 'publisher', 'subscriber']::text[]),
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_username_key ON users (lower(username));

-- Subscription business plans (WSO2: streaming subscription throttling policies).
-- event_count NULL means no event limit; max_connections 0 means no connection cap.
CREATE TABLE business_plans (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name            text NOT NULL UNIQUE,
    display_name    text NOT NULL,
    description     text NOT NULL DEFAULT '',
    event_count     bigint CHECK (event_count IS NULL OR event_count > 0),
    time_unit       text CHECK (time_unit IN ('sec', 'min', 'hour', 'day')),
    unit_time       integer CHECK (unit_time IS NULL OR unit_time > 0),
    max_connections integer NOT NULL DEFAULT 0 CHECK (max_connections >= 0),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CHECK ((event_count IS NULL) = (time_unit IS NULL) AND (event_count IS NULL) = (unit_time IS NULL))
);

INSERT INTO business_plans (name, display_name, description, event_count, time_unit, unit_time, max_connections) VALUES
    ('Unlimited', 'Unlimited', 'No event limit and no connection cap', NULL, NULL, NULL, 0),
    ('Gold', 'Gold', '50000 events per day, up to 100 concurrent connections per subscription', 50000, 'day', 1, 100),
    ('Silver', 'Silver', '25000 events per day, up to 50 concurrent connections per subscription', 25000, 'day', 1, 50),
    ('Bronze', 'Bronze', '5000 events per day, up to 10 concurrent connections per subscription', 5000, 'day', 1, 10);

CREATE TABLE apis (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name                text NOT NULL,
    description         text NOT NULL DEFAULT '',
    context             text NOT NULL,
    version             text NOT NULL,
    provider            text NOT NULL,
    type                text NOT NULL DEFAULT 'WS' CHECK (type = 'WS'),
    lifecycle_state     text NOT NULL DEFAULT 'CREATED'
                        CHECK (lifecycle_state IN ('CREATED', 'PROTOTYPED', 'PUBLISHED', 'BLOCKED', 'DEPRECATED', 'RETIRED')),
    is_default_version  boolean NOT NULL DEFAULT false,
    visibility          text NOT NULL DEFAULT 'PUBLIC' CHECK (visibility IN ('PUBLIC', 'PRIVATE')),
    production_endpoint text,
    sandbox_endpoint    text,
    revision            integer NOT NULL DEFAULT 1,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT apis_context_version_key UNIQUE (context, version),
    CONSTRAINT apis_name_version_key UNIQUE (name, version)
);
-- At most one version of a context is its default version.
CREATE UNIQUE INDEX apis_default_version_key ON apis (context) WHERE is_default_version;

CREATE TABLE api_business_plans (
    api_id   uuid NOT NULL REFERENCES apis (id) ON DELETE CASCADE,
    plan_id  uuid NOT NULL REFERENCES business_plans (id) ON DELETE RESTRICT,
    position integer NOT NULL,
    PRIMARY KEY (api_id, plan_id)
);
CREATE INDEX api_business_plans_plan_idx ON api_business_plans (plan_id);

CREATE TABLE api_lifecycle_history (
    id             bigserial PRIMARY KEY,
    api_id         uuid NOT NULL REFERENCES apis (id) ON DELETE CASCADE,
    previous_state text,
    post_state     text NOT NULL,
    action         text NOT NULL,
    username       text NOT NULL,
    changed_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX api_lifecycle_history_api_idx ON api_lifecycle_history (api_id, id);
