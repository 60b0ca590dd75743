-- Usage per API, application and minute, and the open connections of every gateway.
-- Forward-only: never edit once applied.

-- Gateways add their counts in batches (a row's counts add up across gateways and flushes).
-- application_id is the nil UUID for traffic no application could be named for: a handshake refused
-- before its token was verified. No foreign keys: usage outlives a deleted API or application until
-- retention prunes it, and a batch never fails because of a deletion.
CREATE TABLE usage_minutes (
    api_id           uuid NOT NULL,
    application_id   uuid NOT NULL,
    minute           timestamptz NOT NULL,
    connections      bigint NOT NULL DEFAULT 0,
    messages_in      bigint NOT NULL DEFAULT 0,
    messages_out     bigint NOT NULL DEFAULT 0,
    bytes_in         bigint NOT NULL DEFAULT 0,
    bytes_out        bigint NOT NULL DEFAULT 0,
    errors_auth      bigint NOT NULL DEFAULT 0,
    errors_throttled bigint NOT NULL DEFAULT 0,
    errors_backend   bigint NOT NULL DEFAULT 0,
    errors_other     bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (api_id, minute, application_id)
);
CREATE INDEX usage_minutes_application ON usage_minutes (application_id, minute);
CREATE INDEX usage_minutes_minute ON usage_minutes (minute);

-- Each live gateway's open connections; they go with their node's row.
CREATE UNLOGGED TABLE gateway_connections (
    id             uuid PRIMARY KEY,
    node           text NOT NULL REFERENCES gateway_nodes (node) ON DELETE CASCADE,
    api_id         uuid NOT NULL,
    application_id uuid NOT NULL,
    connected_at   timestamptz NOT NULL,
    last_active_at timestamptz NOT NULL,
    client_address text NOT NULL,
    user_agent     text
);
CREATE INDEX gateway_connections_api ON gateway_connections (api_id);
