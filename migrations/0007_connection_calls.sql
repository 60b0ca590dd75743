-- Connection management calls carried between gateways: a gateway asked about a connection that
-- another gateway holds writes the call here and NOTIFYs portico_connection_calls; the holder
-- answers in the same row and NOTIFYs back; the caller reads the answer and deletes the row.
-- Unlogged: a call lives seconds, and a crash loses only calls in flight (their callers time out).
-- Forward-only: never edit once applied.
CREATE UNLOGGED TABLE connection_calls (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    target_node   text NOT NULL,
    origin_node   text NOT NULL,
    connection_id text NOT NULL,
    action        text NOT NULL,
    shape         text NOT NULL,
    key_id        text NOT NULL,
    api_id        text NOT NULL,
    message       bytea,
    binary_message boolean NOT NULL DEFAULT false,
    close_code    integer,
    close_reason  text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    answer_status integer,
    answer_body   text,
    answered_at   timestamptz
);
CREATE INDEX connection_calls_created ON connection_calls (created_at);
