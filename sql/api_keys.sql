--
-- API keys of service accounts and the client-credentials grant.
--
CREATE EXTENSION warden;
--
SET warden.password_cost = 4;	-- the minimum: keep the test fast

\i sql/include/helpers.psql

-- Principals

SELECT warden.create_service_account('billing', 'acme') > 0 AS created;
SELECT warden.create_user('dave', 'long enough password') > 0 AS created;

SELECT pg_temp.try($$SELECT warden.create_api_key('dave', '{document:read}')$$);
SELECT pg_temp.try($$SELECT warden.create_api_key('nobody')$$);
SELECT pg_temp.try($$SELECT warden.create_api_key('billing', '{documentread}')$$);
SELECT pg_temp.try($$SELECT warden.create_api_key('billing', '{"document:read write"}')$$);
SELECT pg_temp.try($$SELECT warden.create_api_key('billing', '{document:read}', now() - interval '1 day')$$);

-- The key is shown once; only its digest is stored
SELECT warden.create_api_key('billing', '{document:read,invoice:*}', now() + interval '1 day') AS key \gset
SELECT :'key' ~ '^wdn_[a-z0-9]{12}_[A-Za-z0-9_-]{43}$' AS format;
SELECT key_hash = sha256(convert_to(:'key', 'UTF8')) AS digest_only, prefix = substr(:'key', 5, 12) AS prefix,
       scopes FROM warden.api_keys;

SELECT warden.verify_api_key(:'key') - 'prefix' - 'expires_at' AS verified;
SELECT last_used_at IS NOT NULL AS last_use_recorded FROM warden.api_keys;
SELECT pg_temp.try($$SELECT warden.verify_api_key('not a key')$$);
SELECT pg_temp.try(format($$SELECT warden.verify_api_key(%L)$$, left(:'key', -1) || 'x'));
SELECT pg_temp.try(format($$SELECT warden.verify_api_key(%L)$$, :'key' || 'x'));

-- client_credentials: an access token with the key's scopes, no refresh token
SELECT refresh_token IS NULL AS no_refresh, token_type, expires_in,
       warden.verify(access_token) - 'iat' - 'exp' - 'jti' AS claims
  FROM warden.client_credentials(:'key');
SELECT pg_temp.try($$SELECT warden.client_credentials('wdn_000000000000_' || repeat('A', 43))$$);

-- A disabled account's keys stop working
SELECT warden.set_enabled('billing', false);
SELECT pg_temp.try(format($$SELECT warden.client_credentials(%L)$$, :'key'));
SELECT warden.set_enabled('billing', true);

-- An expired key stops working
UPDATE warden.api_keys SET expires_at = now() - interval '1 second';
SELECT pg_temp.try(format($$SELECT warden.verify_api_key(%L)$$, :'key'));
UPDATE warden.api_keys SET expires_at = NULL;

-- Revocation by the key or by its visible prefix
SELECT warden.revoke_api_key('wdn_' || substr(:'key', 5, 12)) AS revoked;
SELECT warden.revoke_api_key(:'key') AS revoked_again;
SELECT pg_temp.try(format($$SELECT warden.verify_api_key(%L)$$, :'key'));
SELECT pg_temp.try(format($$SELECT warden.client_credentials(%L)$$, :'key'));
SELECT pg_temp.try($$SELECT warden.revoke_api_key('nonsense')$$);

-- Failures are audited through the failure writer, without the key
SELECT pg_temp.audit_count('login_failed', NULL, 6) >= 6 AS failures_audited;
SELECT array_agg(DISTINCT detail->>'reason') AS reasons FROM warden.audit_log WHERE event = 'login_failed';
SELECT count(*) AS keys_in_audit FROM warden.audit_log WHERE detail::text ~ 'wdn_[a-z0-9]{12}_';

-- Privileges: warden_auth may use keys, not make them
CREATE ROLE regress_warden_edge IN ROLE warden_auth;
SET ROLE regress_warden_edge;
SELECT pg_temp.try($$SELECT warden.create_api_key('billing')$$);
SELECT pg_temp.try($$SELECT * FROM warden.api_keys$$);
RESET ROLE;
SELECT warden.create_api_key('billing') AS key2 \gset
SET ROLE regress_warden_edge;
SELECT (warden.client_credentials(:'key2')).token_type AS edge_can_exchange;
RESET ROLE;
DROP ROLE regress_warden_edge;

SELECT pg_temp.settle() AS settled;
DROP EXTENSION warden;
