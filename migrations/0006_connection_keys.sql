-- Connection keys: what an API's backend presents to the gateways' connection management API
-- (`Authorization: Bearer pck_…`). The secret is shown once and stored only as a bcrypt hash; a
-- deleted key is revoked at once (gateways drop it with the change notification).
-- Forward-only: never edit once applied.
CREATE TABLE connection_keys (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    api_id      uuid NOT NULL REFERENCES apis (id) ON DELETE CASCADE,
    secret_hash text NOT NULL,
    created_by  text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX connection_keys_api ON connection_keys (api_id);
