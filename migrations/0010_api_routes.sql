-- APIs whose messages go to integrations (routes) instead of a WebSocket endpoint: the route table
-- as JSON in the REST API's shape (routeSelectionExpression, routes: [{routeKey, twoWay,
-- integration}]). NULL: a proxied API with a WebSocket endpoint, as before.
-- Forward-only: never edit once applied.
ALTER TABLE apis ADD COLUMN routes text CHECK (routes IS NULL OR routes::jsonb IS NOT NULL);
