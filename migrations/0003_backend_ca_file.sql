-- A per-API CA bundle (a PEM file path on the gateway hosts) that wss:// backends' certificates are
-- verified against instead of the system's trust roots.
ALTER TABLE apis ADD COLUMN backend_ca_file text;
