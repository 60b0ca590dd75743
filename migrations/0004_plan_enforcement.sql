-- Plans enforced by the gateways: what a business plan limits beyond events and connections, an
-- API's own limits and endpoint resilience, and the state gateways share to count across nodes.
-- Forward-only: never edit once applied.

-- max_message_bytes NULL: the API's limit, else the gateway default. excess_action: what happens to
-- an event over the limit. counted_directions: which relayed messages count as events.
ALTER TABLE business_plans
    ADD COLUMN max_message_bytes  integer CHECK (max_message_bytes IS NULL OR max_message_bytes BETWEEN 1 AND 67108864),
    ADD COLUMN excess_action      text NOT NULL DEFAULT 'drop' CHECK (excess_action IN ('drop', 'close')),
    ADD COLUMN counted_directions text NOT NULL DEFAULT 'both'
        CHECK (counted_directions IN ('both', 'client_to_backend', 'backend_to_client'));

-- An API's limits; NULL means the gateway default. The event ceiling counts all subscribers
-- together. allowed_origins empty: any Origin. The endpoint settings use WSO2's names in the REST
-- API (actionDuration, retryTimeOut, suspendDuration, suspendMaxDuration, factor).
ALTER TABLE apis
    ADD COLUMN event_ceiling_count     bigint CHECK (event_ceiling_count IS NULL OR event_ceiling_count > 0),
    ADD COLUMN event_ceiling_time_unit text CHECK (event_ceiling_time_unit IN ('sec', 'min', 'hour', 'day')),
    ADD COLUMN event_ceiling_unit_time integer CHECK (event_ceiling_unit_time IS NULL OR event_ceiling_unit_time > 0),
    ADD COLUMN max_message_bytes       integer CHECK (max_message_bytes IS NULL OR max_message_bytes BETWEEN 1 AND 67108864),
    ADD COLUMN idle_timeout_seconds    integer CHECK (idle_timeout_seconds IS NULL OR idle_timeout_seconds >= 0),
    ADD COLUMN max_lifetime_seconds    integer CHECK (max_lifetime_seconds IS NULL OR max_lifetime_seconds >= 0),
    ADD COLUMN allowed_origins         text[] NOT NULL DEFAULT '{}',
    ADD COLUMN connect_timeout_ms      integer CHECK (connect_timeout_ms IS NULL OR connect_timeout_ms > 0),
    ADD COLUMN suspend_after_failures  integer CHECK (suspend_after_failures IS NULL OR suspend_after_failures > 0),
    ADD COLUMN suspend_initial_ms      bigint CHECK (suspend_initial_ms IS NULL OR suspend_initial_ms >= 0),
    ADD COLUMN suspend_max_ms          bigint CHECK (suspend_max_ms IS NULL OR suspend_max_ms >= 0),
    ADD COLUMN suspend_factor          double precision CHECK (suspend_factor IS NULL OR suspend_factor >= 1),
    ADD CONSTRAINT apis_event_ceiling_check CHECK ((event_ceiling_count IS NULL) = (event_ceiling_time_unit IS NULL)
                                                   AND (event_ceiling_count IS NULL) = (event_ceiling_unit_time IS NULL));

-- The cluster's token buckets (key: 'subscription:<id>', 'application:<id>', 'api:<id>'). Every
-- gateway reports the events it admitted and reads back what is left; tokens may go below zero
-- (what nodes admitted together beyond the limit), and that debt is repaid before more is admitted.
-- Unlogged: counting state that a crash may lose without harm (buckets then start full).
CREATE UNLOGGED TABLE rate_buckets (
    key             text PRIMARY KEY,
    capacity        double precision NOT NULL,
    rate_per_second double precision NOT NULL,
    tokens          double precision NOT NULL,
    refilled_at     timestamptz NOT NULL,
    -- The events of the latest report (a new row starts from the reporting node's own view).
    last_reported   double precision NOT NULL DEFAULT 0
);

-- Live gateway processes and their open connections per capped subscription, for cluster-wide
-- connection caps. A node whose heartbeat is older than a few seconds is not counted.
CREATE UNLOGGED TABLE gateway_nodes (
    node         text PRIMARY KEY,
    heartbeat_at timestamptz NOT NULL
);
CREATE UNLOGGED TABLE gateway_connection_counts (
    node            text NOT NULL REFERENCES gateway_nodes (node) ON DELETE CASCADE,
    subscription_id uuid NOT NULL,
    connections     integer NOT NULL CHECK (connections > 0),
    PRIMARY KEY (node, subscription_id)
);
