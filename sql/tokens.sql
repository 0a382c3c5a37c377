--
-- Identity and tokens: users, passwords, login, lockout, refresh rotation
-- with reuse detection, verification, revocation, signing keys.
--
CREATE EXTENSION warden;
SET warden.password_cost = 4;	-- the minimum: keep the test fast

\i sql/include/helpers.psql

-- Principals
SELECT warden.create_user('alice', 'correct horse battery', 'acme') > 0 AS created;
SELECT pg_temp.try($$SELECT warden.create_user('alice', 'another password')$$);
SELECT pg_temp.try($$SELECT warden.create_user('bob', 'short')$$);
SELECT pg_temp.try($$SELECT warden.create_user('bob', repeat('x', 73))$$);
SELECT pg_temp.try($$SELECT warden.create_user(NULL, 'long enough password')$$);
SELECT pg_temp.try($$SELECT warden.create_user('has space', 'long enough password')$$);
SELECT warden.create_service_account('billing', 'acme') > 0 AS created;
SELECT pg_temp.try($$SELECT warden.create_service_account('alice')$$);
SELECT pg_temp.try($$SELECT warden.set_password('nobody', 'long enough password')$$);
SELECT pg_temp.try($$SELECT warden.set_enabled('nobody', true)$$);
-- passwords are stored only as Blowfish hashes
SELECT hash LIKE '$2a$04$%' AS blowfish, hash NOT LIKE '%correct%' AS not_clear
  FROM warden.passwords;

-- Login returns an OAuth 2.0 token response
SELECT token_type, expires_in, access_token ~ '^eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$' AS jws,
       refresh_token ~ '^wrt_[A-Za-z0-9_-]{43}$' AS refresh_format
  FROM warden.login('alice', 'correct horse battery');

-- The first issuance created an active key and published its successor
SELECT state, bits, private_key IS NOT NULL AS sealed FROM warden.signing_keys ORDER BY state;
SELECT jsonb_array_length(warden.jwks()->'keys') AS published,
       (SELECT bool_and(k ? 'n' AND k ? 'e' AND k->>'kty' = 'RSA' AND k->>'alg' = 'RS256'
                        AND k->>'use' = 'sig' AND NOT k ? 'd')
          FROM jsonb_array_elements(warden.jwks()->'keys') k) AS public_only;

-- The claims
SELECT c->>'sub' AS sub, c->>'iss' AS iss, c->>'aud' AS aud, c->>'tenant' AS tenant,
       c->'amr' AS amr, (c->>'exp')::bigint - (c->>'iat')::bigint AS lifetime,
       c->>'jti' ~ '^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$' AS jti_uuid
  FROM warden.verify((warden.login('alice', 'correct horse battery')).access_token) c;

-- Wrong password, unknown user and disabled user fail alike...
SELECT pg_temp.try($$SELECT warden.login('alice', 'wrong password')$$);
SELECT pg_temp.try($$SELECT warden.login('mallory', 'wrong password')$$);
SELECT warden.set_enabled('alice', false);
SELECT pg_temp.try($$SELECT warden.login('alice', 'correct horse battery')$$);
SELECT warden.set_enabled('alice', true);
-- ...and a service account cannot log in with a password
SELECT pg_temp.try($$SELECT warden.login('billing', 'correct horse battery')$$);
-- ...but the audit log knows why, and holds no secret
SELECT pg_temp.audit_count('login_failed', NULL, 4) AS failures_audited;
SELECT principal, detail->>'reason' AS reason FROM warden.audit_log
 WHERE event = 'login_failed' ORDER BY at;
SELECT count(*) AS secrets_in_audit FROM warden.audit_log
 WHERE detail::text ~ '(correct horse|wrong password|wrt_|eyJ)';

-- Lockout: three failures lock the account, even for the right password
SET warden.lockout_threshold = 3;
SELECT warden.unlock('alice');
SELECT pg_temp.try($$SELECT warden.login('alice', 'bad 1 password')$$);
SELECT pg_temp.try($$SELECT warden.login('alice', 'bad 2 password')$$);
SELECT pg_temp.try($$SELECT warden.login('alice', 'bad 3 password')$$);
SELECT pg_temp.try($$SELECT warden.login('alice', 'correct horse battery')$$);
SELECT pg_temp.audit_count('account_locked', 'alice') AS locked_audited;
SELECT locked_until > now() AS locked_in_table FROM warden.principals WHERE name = 'alice';
SELECT warden.unlock('alice');
SELECT pg_temp.try($$SELECT warden.login('alice', 'correct horse battery')$$);

-- Refresh rotates: the new pair works, the old refresh token is used up
CREATE TEMP TABLE t AS SELECT * FROM warden.login('alice', 'correct horse battery');
CREATE TEMP TABLE r1 AS SELECT * FROM warden.refresh((SELECT refresh_token FROM t));
SELECT (SELECT refresh_token FROM r1) <> (SELECT refresh_token FROM t) AS rotated,
       warden.verify((SELECT access_token FROM r1))->>'sub' AS sub,
       warden.verify((SELECT access_token FROM r1))->'amr' AS amr_kept;
-- Presenting the used token again revokes the whole family
SELECT pg_temp.try($$SELECT warden.refresh((SELECT refresh_token FROM t))$$);
SELECT pg_temp.audit_count('refresh_reuse_detected', 'alice') AS reuse_audited;
SELECT pg_temp.try($$SELECT warden.refresh((SELECT refresh_token FROM r1))$$);
SELECT pg_temp.try($$SELECT warden.verify((SELECT access_token FROM r1))$$);
SELECT pg_temp.try($$SELECT warden.refresh('wrt_unknown')$$);

-- Revocation of one access token, then of a refresh token's family
CREATE TEMP TABLE t2 AS SELECT * FROM warden.login('alice', 'correct horse battery');
SELECT warden.revoke((SELECT access_token FROM t2)) AS revoked;
SELECT warden.revoke((SELECT access_token FROM t2)) AS revoked_twice;
SELECT pg_temp.try($$SELECT warden.verify((SELECT access_token FROM t2))$$);
SELECT warden.revoke((SELECT refresh_token FROM t2)) AS family_revoked;
SELECT pg_temp.try($$SELECT warden.refresh((SELECT refresh_token FROM t2))$$);
SELECT warden.revoke('wrt_never_issued') AS unknown_refresh;

-- revoke_all ends every session; a login right after works
CREATE TEMP TABLE t3 AS SELECT * FROM warden.login('alice', 'correct horse battery');
SELECT warden.revoke_all('alice');
SELECT pg_temp.try($$SELECT warden.verify((SELECT access_token FROM t3))$$);
SELECT pg_temp.try($$SELECT warden.refresh((SELECT refresh_token FROM t3))$$);
SELECT warden.verify((warden.login('alice', 'correct horse battery')).access_token)->>'sub' AS fresh_login;
SELECT pg_temp.try($$SELECT warden.revoke_all('nobody')$$);

-- Disabling a principal stops its tokens verifying
CREATE TEMP TABLE t4 AS SELECT * FROM warden.login('alice', 'correct horse battery');
SELECT warden.set_enabled('alice', false);
SELECT pg_temp.try($$SELECT warden.verify((SELECT access_token FROM t4))$$);
SELECT warden.set_enabled('alice', true);
SELECT warden.verify((SELECT access_token FROM t4))->>'sub' AS valid_again;

-- set_password revokes every session
SELECT warden.set_password('alice', 'a new long password');
SELECT pg_temp.try($$SELECT warden.verify((SELECT access_token FROM t4))$$);
SELECT pg_temp.try($$SELECT warden.login('alice', 'correct horse battery')$$);
SELECT (warden.login('alice', 'a new long password')).token_type;

-- Rotation: the next key becomes active and a new next key is published;
-- tokens signed by the old key keep verifying while it retires
CREATE TEMP TABLE before AS SELECT * FROM warden.login('alice', 'a new long password');
SELECT kid AS next_kid FROM warden.signing_keys WHERE state = 'next' \gset
SELECT warden.rotate_signing_key() = :'next_kid' AS promoted_published_key;
SELECT state, count(*) FROM warden.signing_keys GROUP BY state ORDER BY state;
SELECT jsonb_array_length(warden.jwks()->'keys') AS published;
SELECT warden.verify((SELECT access_token FROM before))->>'sub' AS old_key_verifies;
SELECT (string_to_array((warden.login('alice', 'a new long password')).access_token, '.'))[1]
       = (SELECT (string_to_array(access_token, '.'))[1] FROM before) AS same_header;

-- Once its last token has expired, a retiring key retires: it leaves the
-- JWKS and verifies nothing more
UPDATE warden.signing_keys SET verify_until = now() - interval '1 second' WHERE state = 'retiring';
SELECT jsonb_array_length(warden.jwks()->'keys') AS published_after_retirement;
SELECT pg_temp.try($$SELECT warden.verify((SELECT access_token FROM before))$$);
SELECT warden.rotate_signing_key() IS NOT NULL AS rotated_again;
SELECT state, count(*) FROM warden.signing_keys GROUP BY state ORDER BY state;

-- Hostile input gets its SQLSTATE, never a crash
CREATE TEMP TABLE fresh AS SELECT * FROM warden.login('alice', 'a new long password');
SELECT pg_temp.try($$SELECT warden.verify('')$$);
SELECT pg_temp.try($$SELECT warden.verify('a.b')$$);
SELECT pg_temp.try($$SELECT warden.verify('a.b.c.d')$$);
SELECT pg_temp.try($$SELECT warden.verify('!!!.???.***')$$);
SELECT pg_temp.try($$SELECT warden.verify(repeat('a', 9000))$$);
-- alg none, with the claims of a real token
SELECT pg_temp.try(format($$SELECT warden.verify(%L)$$,
	'eyJhbGciOiJub25lIn0.' || (string_to_array((SELECT access_token FROM fresh), '.'))[2] || '.'));
-- a real token with its payload swapped for another token's
SELECT pg_temp.try(format($$SELECT warden.verify(%L)$$,
	(string_to_array((SELECT access_token FROM fresh), '.'))[1] || '.' ||
	(string_to_array((SELECT access_token FROM t), '.'))[2] || '.' ||
	(string_to_array((SELECT access_token FROM fresh), '.'))[3]));
-- truncated signature (by whole bytes, so it still decodes)
SELECT pg_temp.try(format($$SELECT warden.verify(%L)$$,
	left((SELECT access_token FROM fresh), -2)));
SELECT warden.verify(NULL) IS NULL AS strict;

-- Privileges: ordinary roles can read the JWKS and nothing else
CREATE ROLE regress_warden_nobody;
CREATE ROLE regress_warden_client IN ROLE warden_auth;
SET ROLE regress_warden_nobody;
SELECT jsonb_array_length(warden.jwks()->'keys') > 0 AS jwks_public;
SELECT pg_temp.try($$SELECT warden.login('alice', 'a new long password')$$);
SELECT pg_temp.try($$SELECT warden.create_user('eve', 'long enough password')$$);
SELECT pg_temp.try($$SELECT * FROM warden.passwords$$);
SELECT pg_temp.try($$SELECT warden._access_token('alice', NULL, NULL, NULL, NULL, NULL, NULL)$$);
RESET ROLE;
SET ROLE regress_warden_client;
SELECT (warden.login('alice', 'a new long password')).token_type AS client_can_login;
SELECT pg_temp.try($$SELECT warden.rotate_signing_key()$$);
RESET ROLE;
DROP ROLE regress_warden_nobody, regress_warden_client;

-- RFC 7662 introspection: the claims of a live token, {"active": false}
-- for anything else, whatever the reason
SELECT (warden.login('alice', 'a new long password')).access_token AS it \gset
SELECT i->'active' AS active, i->>'token_type' AS token_type, i->>'username' AS username,
       i->>'sub' AS sub, i ? 'exp' AND i ? 'jti' AS has_exp_and_jti
  FROM warden.introspect(:'it') i;
SELECT warden.introspect('not.a.token') AS garbage;
SELECT warden.revoke(:'it') AS revoked;
SELECT warden.introspect(:'it') AS after_revocation;

SELECT pg_temp.settle() AS settled;
DROP EXTENSION warden;
