/*
 * warden--0.1.0.sql
 *		Install script of the warden extension.
 *
 * Every object lives in schema warden. The script creates it, so the schema
 * is a member of the extension and DROP EXTENSION removes it with everything
 * in it; a pre-existing schema of that name makes CREATE EXTENSION fail
 * rather than mix warden's objects with someone else's.
 *
 * Functions that change policy or read secrets revoke EXECUTE from PUBLIC
 * where they are defined; what is left callable by everyone is harmless.
 */

\echo Use "CREATE EXTENSION warden" to load this file. \quit

CREATE SCHEMA warden;
COMMENT ON SCHEMA warden IS 'warden: tokens, authorization, PII masking, outbox';
GRANT USAGE ON SCHEMA warden TO PUBLIC;

-- The version of the loaded shared library. It can differ from the
-- installed SQL objects' version (pg_extension.extversion) between an
-- upgrade of the package and ALTER EXTENSION warden UPDATE.
CREATE FUNCTION warden.version()
RETURNS text
AS 'MODULE_PATHNAME', 'warden_version'
LANGUAGE C STABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION warden.version() IS 'version of the loaded warden library';

/* ------------------------------------------------------------------------
 * Roles
 *
 * warden_admin manages principals, keys and policy; warden_auth may use
 * the token functions (the edge's database user is granted it);
 * warden_pii_reader sees unmasked columns (as does the pii:read permission). Roles are
 * cluster-wide, so they are created only when missing and survive DROP
 * EXTENSION, like the users granted them.
 * ------------------------------------------------------------------------ */

DO $$
BEGIN
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'warden_admin') THEN
		CREATE ROLE warden_admin NOLOGIN;
	END IF;
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'warden_auth') THEN
		CREATE ROLE warden_auth NOLOGIN;
	END IF;
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'warden_pii_reader') THEN
		CREATE ROLE warden_pii_reader NOLOGIN;
	END IF;
END
$$;

/* ------------------------------------------------------------------------
 * Identity and tokens
 *
 * Secrets are never stored in clear: passwords as Blowfish crypt() hashes,
 * refresh tokens and API keys as SHA-256 digests of 256-bit random values,
 * private keys and TOTP secrets sealed with AES-256-GCM under the master
 * key. Only warden's SECURITY DEFINER functions read or write these tables.
 * ------------------------------------------------------------------------ */

CREATE TABLE warden.principals (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	name text NOT NULL UNIQUE
		CHECK (length(name) BETWEEN 1 AND 256 AND name !~ '[[:cntrl:][:space:]]'),
	kind text NOT NULL CHECK (kind IN ('user', 'service', 'group')),
	tenant text CHECK (length(tenant) BETWEEN 1 AND 256),
	enabled boolean NOT NULL DEFAULT true,
	failed_logins integer NOT NULL DEFAULT 0,
	locked_until timestamptz,
	-- tokens issued before this instant are revoked (warden.revoke_all)
	tokens_valid_after timestamptz,
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE warden.principals IS 'users, service accounts and groups';

CREATE TABLE warden.passwords (
	principal_id bigint PRIMARY KEY REFERENCES warden.principals ON DELETE CASCADE,
	hash text NOT NULL,
	changed_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE warden.passwords IS 'Blowfish crypt() hashes of user passwords';

CREATE TABLE warden.signing_keys (
	kid text PRIMARY KEY,
	state text NOT NULL CHECK (state IN ('next', 'active', 'retiring', 'retired')),
	public_jwk jsonb NOT NULL,
	-- PKCS#8 DER of the private key, sealed under the master key
	private_key bytea NOT NULL,
	bits integer NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now(),
	activated_at timestamptz,
	retiring_at timestamptz,
	-- a retiring key verifies until the last token it signed has expired
	verify_until timestamptz
);
CREATE UNIQUE INDEX signing_keys_one_active ON warden.signing_keys ((true)) WHERE state = 'active';
CREATE UNIQUE INDEX signing_keys_one_next ON warden.signing_keys ((true)) WHERE state = 'next';
COMMENT ON TABLE warden.signing_keys IS 'RS256 signing keys: next -> active -> retiring -> retired';

CREATE TABLE warden.refresh_tokens (
	id uuid PRIMARY KEY,
	family_id uuid NOT NULL,
	principal_id bigint NOT NULL REFERENCES warden.principals ON DELETE CASCADE,
	token_hash bytea NOT NULL UNIQUE,
	amr text[] NOT NULL DEFAULT '{}',
	-- the access token issued together with this refresh token, revoked
	-- with the family
	access_jti uuid,
	access_expires_at timestamptz,
	issued_at timestamptz NOT NULL DEFAULT now(),
	expires_at timestamptz NOT NULL,
	used_at timestamptz,
	revoked_at timestamptz
);
CREATE INDEX refresh_tokens_family ON warden.refresh_tokens (family_id);
CREATE INDEX refresh_tokens_principal ON warden.refresh_tokens (principal_id);
COMMENT ON TABLE warden.refresh_tokens IS 'refresh tokens, by SHA-256 digest; one family per login';

CREATE TABLE warden.revoked_tokens (
	jti uuid PRIMARY KEY,
	principal_id bigint REFERENCES warden.principals ON DELETE CASCADE,
	expires_at timestamptz NOT NULL,
	revoked_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE warden.revoked_tokens IS 'access tokens revoked before they expire';

CREATE TABLE warden.audit_log (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	at timestamptz NOT NULL DEFAULT clock_timestamp(),
	event text NOT NULL,
	principal text,
	actor text NOT NULL DEFAULT session_user,
	detail jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_at ON warden.audit_log (at);
CREATE INDEX audit_log_principal ON warden.audit_log (principal, at);
COMMENT ON TABLE warden.audit_log IS 'every authentication event, without secrets';

REVOKE ALL ON warden.principals, warden.passwords, warden.signing_keys,
	warden.refresh_tokens, warden.revoked_tokens, warden.audit_log FROM PUBLIC;
GRANT SELECT ON warden.principals, warden.audit_log TO warden_admin;

CREATE TABLE warden.mfa_totp (
	principal_id bigint PRIMARY KEY REFERENCES warden.principals ON DELETE CASCADE,
	-- 20 random bytes, sealed under the master key
	secret bytea NOT NULL,
	-- NULL until a first code proves the authenticator has the secret
	confirmed_at timestamptz,
	-- highest time step accepted: no code is accepted twice
	last_step bigint NOT NULL DEFAULT 0,
	created_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE warden.mfa_totp IS 'TOTP (RFC 6238) secrets of users with multi-factor authentication';

CREATE TABLE warden.recovery_codes (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	principal_id bigint NOT NULL REFERENCES warden.principals ON DELETE CASCADE,
	code_hash bytea NOT NULL,
	used_at timestamptz,
	created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX recovery_codes_principal ON warden.recovery_codes (principal_id);
COMMENT ON TABLE warden.recovery_codes IS 'one-time recovery codes, by SHA-256 digest';

CREATE TABLE warden.api_keys (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	principal_id bigint NOT NULL REFERENCES warden.principals ON DELETE CASCADE,
	-- the visible part of the key, which names it: wdn_<prefix>_<secret>
	prefix text NOT NULL UNIQUE,
	key_hash bytea NOT NULL,
	scopes text[] NOT NULL DEFAULT '{}',
	expires_at timestamptz,
	created_at timestamptz NOT NULL DEFAULT now(),
	last_used_at timestamptz,
	revoked_at timestamptz
);
CREATE INDEX api_keys_principal ON warden.api_keys (principal_id);
COMMENT ON TABLE warden.api_keys IS 'API keys of service accounts, by SHA-256 digest';

REVOKE ALL ON warden.mfa_totp, warden.recovery_codes, warden.api_keys FROM PUBLIC;

CREATE TYPE warden.token_response AS (
	access_token text,
	refresh_token text,
	expires_in integer,
	token_type text
);
COMMENT ON TYPE warden.token_response IS 'an OAuth 2.0 token response (RFC 6749 section 5.1)';

/* ------------------------------------------------------------------------
 * Internal functions: called by warden's own functions only.
 * ------------------------------------------------------------------------ */

CREATE FUNCTION warden._cache_invalidate() RETURNS trigger
AS 'MODULE_PATHNAME', 'warden_cache_invalidate' LANGUAGE C;

-- Every backend caches keys and revocations; these triggers make a
-- committed change reach every cache at once (see extension/cache.c).
CREATE TRIGGER cache_invalidate AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
	ON warden.signing_keys FOR EACH STATEMENT EXECUTE FUNCTION warden._cache_invalidate();
CREATE TRIGGER cache_invalidate AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
	ON warden.revoked_tokens FOR EACH STATEMENT EXECUTE FUNCTION warden._cache_invalidate();
CREATE TRIGGER cache_invalidate AFTER UPDATE OF name, enabled, tokens_valid_after OR DELETE OR TRUNCATE
	ON warden.principals FOR EACH STATEMENT EXECUTE FUNCTION warden._cache_invalidate();

CREATE FUNCTION warden._create_signing_key(state text) RETURNS text
AS 'MODULE_PATHNAME', 'warden_create_signing_key' LANGUAGE C STRICT VOLATILE;

CREATE FUNCTION warden._access_token(sub text, tenant text, amr text[], scope text,
	valid_after timestamptz, jti uuid, roles text[]) RETURNS text
AS 'MODULE_PATHNAME', 'warden_access_token' LANGUAGE C VOLATILE;

CREATE FUNCTION warden._token_claims(token text) RETURNS jsonb
AS 'MODULE_PATHNAME', 'warden_token_claims' LANGUAGE C STRICT STABLE;

CREATE FUNCTION warden._random_token(prefix text) RETURNS text
AS 'MODULE_PATHNAME', 'warden_random_token' LANGUAGE C STRICT VOLATILE;

CREATE FUNCTION warden._password_hash(password text) RETURNS text
AS 'MODULE_PATHNAME', 'warden_password_hash' LANGUAGE C STRICT VOLATILE;

CREATE FUNCTION warden._password_check(password text, hash text) RETURNS boolean
AS 'MODULE_PATHNAME', 'warden_password_check' LANGUAGE C VOLATILE;

CREATE FUNCTION warden._login_failed(principal_id bigint, principal text, reason text,
	count boolean) RETURNS timestamptz
AS 'MODULE_PATHNAME', 'warden_login_failed' LANGUAGE C VOLATILE;

CREATE FUNCTION warden._login_locked_until(principal_id bigint) RETURNS timestamptz
AS 'MODULE_PATHNAME', 'warden_login_locked_until' LANGUAGE C STRICT VOLATILE;

CREATE FUNCTION warden._login_reset(principal_id bigint) RETURNS void
AS 'MODULE_PATHNAME', 'warden_login_reset' LANGUAGE C STRICT VOLATILE;

CREATE FUNCTION warden._refresh_reused(family uuid, principal_id bigint, principal text) RETURNS void
AS 'MODULE_PATHNAME', 'warden_refresh_reused' LANGUAGE C STRICT VOLATILE;

CREATE FUNCTION warden._family_revoked(family uuid) RETURNS boolean
AS 'MODULE_PATHNAME', 'warden_family_revoked' LANGUAGE C STRICT VOLATILE;

-- Failures queued for the failure writer and not yet written: a DBA who
-- drops the extension, or a test, waits for 0.
CREATE FUNCTION warden.failures_pending() RETURNS integer
AS 'MODULE_PATHNAME', 'warden_failures_pending' LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION warden.failures_pending() IS 'authentication failures not yet written to the audit log';
REVOKE ALL ON FUNCTION warden.failures_pending() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION warden.failures_pending() TO warden_admin;

-- A duration setting in seconds (SHOW prints them with units: 15min, 7d).
CREATE FUNCTION warden._setting_seconds(name text) RETURNS integer
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT extract(epoch FROM current_setting(name)::interval)::integer $$;

CREATE FUNCTION warden._principal(name text, kind text DEFAULT NULL)
RETURNS warden.principals
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	p warden.principals;
BEGIN
	SELECT * INTO p FROM warden.principals pr
	 WHERE pr.name = _principal.name AND (_principal.kind IS NULL OR pr.kind = _principal.kind);
	IF NOT FOUND THEN
		RAISE EXCEPTION '% "%" does not exist',
			CASE _principal.kind WHEN 'user' THEN 'user' WHEN 'service' THEN 'service account'
			                     WHEN 'group' THEN 'group' ELSE 'principal' END,
			_principal.name
			USING ERRCODE = 'WT101';
	END IF;
	RETURN p;
END
$$;

CREATE FUNCTION warden._audit(event text, principal text, detail jsonb DEFAULT '{}')
RETURNS void
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$ INSERT INTO warden.audit_log (event, principal, detail) VALUES (event, principal, detail) $$;

-- Issues an access token and a refresh token of the given family (a new
-- family for a login).
CREATE FUNCTION warden._issue_tokens(p warden.principals, amr text[], family uuid)
RETURNS warden.token_response
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	refresh text := warden._random_token('wrt_');
	jti uuid := gen_random_uuid();
	access_ttl integer := warden._setting_seconds('warden.access_token_ttl');
	access text;
BEGIN
	access := warden._access_token(p.name, p.tenant, amr, NULL, p.tokens_valid_after, jti,
	                               warden.principal_roles(p.name));
	INSERT INTO warden.refresh_tokens
		(id, family_id, principal_id, token_hash, amr, expires_at, access_jti, access_expires_at)
	VALUES (gen_random_uuid(), coalesce(family, gen_random_uuid()), p.id,
		sha256(convert_to(refresh, 'UTF8')), coalesce(amr, '{}'),
		now() + make_interval(secs => warden._setting_seconds('warden.refresh_token_ttl')),
		jti, clock_timestamp() + make_interval(secs => access_ttl));
	RETURN (access, refresh, access_ttl, 'Bearer')::warden.token_response;
END
$$;

-- Revokes refresh tokens, of one principal or of one family, and the
-- access tokens issued with them.
CREATE FUNCTION warden._revoke_sessions(principal_id bigint, family uuid)
RETURNS void
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
	INSERT INTO warden.revoked_tokens (jti, principal_id, expires_at)
	SELECT access_jti, t.principal_id, access_expires_at
	  FROM warden.refresh_tokens t
	 WHERE (t.principal_id = _revoke_sessions.principal_id OR t.family_id = family)
	   AND access_jti IS NOT NULL AND access_expires_at > now()
	ON CONFLICT DO NOTHING;
	UPDATE warden.refresh_tokens t SET revoked_at = now()
	 WHERE (t.principal_id = _revoke_sessions.principal_id OR t.family_id = family)
	   AND revoked_at IS NULL;
$$;

-- Revokes a refresh-token family and the access tokens issued with it.
CREATE FUNCTION warden._revoke_family(family uuid, reason text)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	who text;
BEGIN
	PERFORM warden._revoke_sessions(NULL, family);
	SELECT p.name INTO who FROM warden.refresh_tokens t JOIN warden.principals p ON p.id = t.principal_id
	 WHERE t.family_id = family LIMIT 1;
	PERFORM warden._audit(CASE WHEN reason = 'refresh_token_reused' THEN 'refresh_reuse_detected'
	                           ELSE 'token_revoked' END,
		who, jsonb_build_object('family', family, 'reason', reason));
END
$$;

CREATE FUNCTION warden._ct_equal(a bytea, b bytea) RETURNS boolean
AS 'MODULE_PATHNAME', 'warden_ct_equal' LANGUAGE C STRICT IMMUTABLE;

CREATE FUNCTION warden._totp_enroll(principal_id bigint, account text, OUT secret bytea, OUT uri text)
AS 'MODULE_PATHNAME', 'warden_totp_enroll' LANGUAGE C STRICT VOLATILE;

CREATE FUNCTION warden._totp_check(secret bytea, principal_id bigint, code text, last_step bigint)
RETURNS bigint
AS 'MODULE_PATHNAME', 'warden_totp_check' LANGUAGE C STRICT VOLATILE;

CREATE FUNCTION warden._totp_code(secret bytea, principal_id bigint, at timestamptz)
RETURNS text
AS 'MODULE_PATHNAME', 'warden_totp_code' LANGUAGE C STRICT VOLATILE;

CREATE FUNCTION warden._recovery_code() RETURNS text
AS 'MODULE_PATHNAME', 'warden_recovery_code' LANGUAGE C STRICT VOLATILE;

-- Recovery codes are compared without case, spaces or dashes.
CREATE FUNCTION warden._recovery_hash(code text) RETURNS bytea
LANGUAGE sql IMMUTABLE STRICT
SET search_path = pg_catalog, pg_temp
AS $$ SELECT sha256(convert_to(lower(regexp_replace(code, '[[:space:]-]', '', 'g')), 'UTF8')) $$;

-- The second factor of a login: a TOTP code, else an unused recovery code.
-- Returns the amr values it proves, or NULL. The caller holds the
-- principal's row lock, so a code cannot be used twice concurrently.
CREATE FUNCTION warden._mfa_check(p warden.principals, code text) RETURNS text[]
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	m warden.mfa_totp;
	step bigint;
	rc bigint;
BEGIN
	SELECT * INTO m FROM warden.mfa_totp WHERE principal_id = p.id FOR UPDATE;
	step := warden._totp_check(m.secret, p.id, code, m.last_step);
	IF step IS NOT NULL THEN
		UPDATE warden.mfa_totp SET last_step = step WHERE principal_id = p.id;
		RETURN ARRAY['pwd', 'otp', 'mfa'];
	END IF;
	UPDATE warden.recovery_codes SET used_at = now()
	 WHERE id = (SELECT id FROM warden.recovery_codes
	              WHERE principal_id = p.id AND used_at IS NULL
	                AND warden._ct_equal(code_hash, warden._recovery_hash(code))
	              LIMIT 1)
	RETURNING id INTO rc;
	IF rc IS NOT NULL THEN
		PERFORM warden._audit('mfa_recovery_code_used', p.name);
		RETURN ARRAY['pwd', 'mfa'];
	END IF;
	RETURN NULL;
END
$$;

REVOKE ALL ON FUNCTION warden._cache_invalidate(), warden._create_signing_key(text),
	warden._access_token(text, text, text[], text, timestamptz, uuid, text[]),
	warden._token_claims(text), warden._random_token(text),
	warden._password_hash(text), warden._password_check(text, text),
	warden._login_failed(bigint, text, text, boolean), warden._login_locked_until(bigint),
	warden._login_reset(bigint), warden._refresh_reused(uuid, bigint, text),
	warden._family_revoked(uuid), warden._setting_seconds(text),
	warden._principal(text, text), warden._audit(text, text, jsonb),
	warden._issue_tokens(warden.principals, text[], uuid), warden._revoke_family(uuid, text),
	warden._revoke_sessions(bigint, uuid), warden._ct_equal(bytea, bytea),
	warden._totp_enroll(bigint, text), warden._totp_check(bytea, bigint, text, bigint),
	warden._totp_code(bytea, bigint, timestamptz), warden._recovery_code(),
	warden._recovery_hash(text), warden._mfa_check(warden.principals, text)
	FROM PUBLIC;

/* ------------------------------------------------------------------------
 * Principals
 * ------------------------------------------------------------------------ */

CREATE FUNCTION warden.create_user(username text, password text, tenant text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	id bigint;
BEGIN
	IF username IS NULL OR password IS NULL THEN
		RAISE EXCEPTION 'username and password must not be null' USING ERRCODE = '22004';
	END IF;
	BEGIN
		INSERT INTO warden.principals (name, kind, tenant) VALUES (username, 'user', tenant)
		RETURNING principals.id INTO id;
	EXCEPTION WHEN unique_violation THEN
		RAISE EXCEPTION 'principal "%" already exists', username USING ERRCODE = 'WT102';
	END;
	INSERT INTO warden.passwords (principal_id, hash) VALUES (id, warden._password_hash(password));
	PERFORM warden._audit('user_created', username, jsonb_strip_nulls(jsonb_build_object('tenant', tenant)));
	RETURN id;
END
$$;
COMMENT ON FUNCTION warden.create_user(text, text, text) IS 'creates a user with a password';

CREATE FUNCTION warden.create_service_account(name text, tenant text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	id bigint;
BEGIN
	IF name IS NULL THEN
		RAISE EXCEPTION 'name must not be null' USING ERRCODE = '22004';
	END IF;
	BEGIN
		INSERT INTO warden.principals (name, kind, tenant)
		VALUES (create_service_account.name, 'service', tenant)
		RETURNING principals.id INTO id;
	EXCEPTION WHEN unique_violation THEN
		RAISE EXCEPTION 'principal "%" already exists', name USING ERRCODE = 'WT102';
	END;
	PERFORM warden._audit('service_account_created', name, jsonb_strip_nulls(jsonb_build_object('tenant', tenant)));
	RETURN id;
END
$$;
COMMENT ON FUNCTION warden.create_service_account(text, text) IS 'creates a service account (it authenticates with API keys)';

-- Setting a password ends every session of the user: whoever knew the
-- old one may hold its tokens.
CREATE FUNCTION warden.set_password(username text, password text)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	p warden.principals := warden._principal(username, 'user');
BEGIN
	IF password IS NULL THEN
		RAISE EXCEPTION 'password must not be null' USING ERRCODE = '22004';
	END IF;
	INSERT INTO warden.passwords (principal_id, hash) VALUES (p.id, warden._password_hash(password))
	ON CONFLICT (principal_id) DO UPDATE SET hash = excluded.hash, changed_at = now();
	PERFORM warden._audit('password_changed', username);
	PERFORM warden.revoke_all(username);
END
$$;
COMMENT ON FUNCTION warden.set_password(text, text) IS 'sets a user''s password and revokes all of their tokens';

CREATE FUNCTION warden.set_enabled(principal text, enabled boolean)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	p warden.principals := warden._principal(principal);
BEGIN
	IF enabled IS NULL THEN
		RAISE EXCEPTION 'enabled must not be null' USING ERRCODE = '22004';
	END IF;
	UPDATE warden.principals SET enabled = set_enabled.enabled, updated_at = now() WHERE id = p.id;
	PERFORM warden._audit(CASE WHEN enabled THEN 'principal_enabled' ELSE 'principal_disabled' END, principal);
END
$$;
COMMENT ON FUNCTION warden.set_enabled(text, boolean) IS 'enables or disables a principal; a disabled principal''s tokens stop verifying';

CREATE FUNCTION warden.unlock(principal text)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	p warden.principals := warden._principal(principal);
BEGIN
	PERFORM warden._login_reset(p.id);
	UPDATE warden.principals SET failed_logins = 0, locked_until = NULL, updated_at = now() WHERE id = p.id;
	PERFORM warden._audit('account_unlocked', principal);
END
$$;
COMMENT ON FUNCTION warden.unlock(text) IS 'ends a lockout after failed logins';

/* ------------------------------------------------------------------------
 * Signing keys
 * ------------------------------------------------------------------------ */

CREATE FUNCTION warden.jwks()
RETURNS jsonb
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT jsonb_build_object('keys', coalesce(jsonb_agg(public_jwk ORDER BY
		CASE state WHEN 'active' THEN 0 WHEN 'next' THEN 1 ELSE 2 END, created_at), '[]'::jsonb))
	  FROM warden.signing_keys
	 WHERE state IN ('next', 'active') OR (state = 'retiring' AND verify_until > now())
$$;
COMMENT ON FUNCTION warden.jwks() IS 'the public signing keys as an RFC 7517 JWK Set';

-- The published next key becomes active, the active key retires (it keeps
-- verifying until the last token it signed has expired), and a new next
-- key is published. On a new installation it creates the first keys.
CREATE FUNCTION warden.rotate_signing_key()
RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	grace interval := make_interval(secs => warden._setting_seconds('warden.access_token_ttl')
	                                        + warden._setting_seconds('warden.token_leeway'));
	next_kid text;
	new_active text;
BEGIN
	LOCK TABLE warden.signing_keys IN SHARE ROW EXCLUSIVE MODE;
	UPDATE warden.signing_keys SET state = 'retired'
	 WHERE state = 'retiring' AND verify_until <= now();
	SELECT kid INTO next_kid FROM warden.signing_keys WHERE state = 'next';
	IF next_kid IS NULL THEN
		-- nothing has been published yet: the first key may sign at once
		IF EXISTS (SELECT FROM warden.signing_keys WHERE state = 'active') THEN
			PERFORM warden._create_signing_key('next');
			RAISE EXCEPTION 'no next signing key was published'
				USING ERRCODE = '55000',
				      HINT = 'A next key has now been published; rotate again once JWKS caches have refreshed.';
		END IF;
		new_active := warden._create_signing_key('active');
	ELSE
		UPDATE warden.signing_keys
		   SET state = 'retiring', retiring_at = now(), verify_until = now() + grace
		 WHERE state = 'active';
		UPDATE warden.signing_keys SET state = 'active', activated_at = now()
		 WHERE kid = next_kid;
		new_active := next_kid;
	END IF;
	next_kid := warden._create_signing_key('next');
	PERFORM warden._audit('key_rotated', NULL,
		jsonb_build_object('active', new_active, 'next', next_kid));
	RETURN new_active;
END
$$;
COMMENT ON FUNCTION warden.rotate_signing_key() IS 'promotes the published next signing key and publishes a new one';

/* ------------------------------------------------------------------------
 * Tokens
 * ------------------------------------------------------------------------ */

CREATE FUNCTION warden.verify(access_token text)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'warden_verify'
LANGUAGE C STRICT STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION warden.verify(text) IS 'verifies an access token and returns its claims';

CREATE FUNCTION warden.login(username text, password text, totp text DEFAULT NULL)
RETURNS warden.token_response
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	p warden.principals;
	h text;
	locked timestamptz;
	reason text;
	ok boolean;
	amr text[] := ARRAY['pwd'];
BEGIN
	SELECT * INTO p FROM warden.principals pr
	 WHERE pr.name = username AND pr.kind = 'user' FOR UPDATE;
	IF FOUND THEN
		SELECT hash INTO h FROM warden.passwords WHERE principal_id = p.id;
		locked := warden._login_locked_until(p.id);
		IF p.locked_until > now() THEN
			locked := greatest(locked, p.locked_until);
		END IF;
	END IF;

	-- always hash: every refusal takes as long as a wrong password
	ok := warden._password_check(password, h);
	IF p.id IS NULL THEN
		reason := 'unknown_user';
	ELSIF locked IS NOT NULL THEN
		reason := 'locked';
	ELSIF h IS NULL THEN
		reason := 'no_password';
	ELSIF NOT ok THEN
		reason := 'wrong_password';
	ELSIF NOT p.enabled THEN
		reason := 'disabled';
	END IF;
	IF reason IS NOT NULL THEN
		PERFORM warden._login_failed(p.id, username, reason, reason = 'wrong_password');
		RAISE EXCEPTION 'invalid username or password' USING ERRCODE = '28P01';
	END IF;

	-- the second factor, for users who confirmed a TOTP enrolment
	IF EXISTS (SELECT FROM warden.mfa_totp WHERE principal_id = p.id AND confirmed_at IS NOT NULL) THEN
		IF totp IS NULL THEN
			RAISE EXCEPTION 'a one-time code is required' USING ERRCODE = 'WT201',
				HINT = 'Call warden.login again with the code from the authenticator app.';
		END IF;
		amr := warden._mfa_check(p, totp);
		IF amr IS NULL THEN
			-- counted like a wrong password: the code space is small
			PERFORM warden._login_failed(p.id, username, 'wrong_mfa_code', true);
			RAISE EXCEPTION 'invalid username or password' USING ERRCODE = '28P01';
		END IF;
	END IF;

	PERFORM warden._login_reset(p.id);
	IF p.failed_logins <> 0 OR p.locked_until IS NOT NULL THEN
		UPDATE warden.principals SET failed_logins = 0, locked_until = NULL WHERE id = p.id;
	END IF;
	PERFORM warden._audit('login_ok', username, jsonb_build_object('amr', amr));
	RETURN warden._issue_tokens(p, amr, NULL);
END
$$;
COMMENT ON FUNCTION warden.login(text, text, text) IS 'password (and TOTP) login: returns an access and a refresh token';

-- Rotation: the presented refresh token is used up and a new one of the
-- same family issued. A used token presented again means it was copied:
-- the whole family is revoked (by the failure writer, since this
-- transaction ends in an error) and the call fails like an unknown token.
CREATE FUNCTION warden.refresh(refresh_token text)
RETURNS warden.token_response
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	t warden.refresh_tokens;
	p warden.principals;
BEGIN
	SELECT * INTO t FROM warden.refresh_tokens
	 WHERE token_hash = sha256(convert_to(refresh_token, 'UTF8')) FOR UPDATE;
	IF FOUND THEN
		SELECT * INTO p FROM warden.principals WHERE id = t.principal_id;
	END IF;
	IF NOT FOUND OR t.revoked_at IS NOT NULL OR t.expires_at <= now()
	   OR warden._family_revoked(t.family_id) THEN
		RAISE EXCEPTION 'invalid refresh token' USING ERRCODE = 'WT012';
	END IF;
	IF t.used_at IS NOT NULL THEN
		PERFORM warden._refresh_reused(t.family_id, p.id, p.name);
		RAISE EXCEPTION 'invalid refresh token' USING ERRCODE = 'WT012';
	END IF;
	IF NOT p.enabled OR (p.tokens_valid_after IS NOT NULL AND t.issued_at < p.tokens_valid_after) THEN
		RAISE EXCEPTION 'invalid refresh token' USING ERRCODE = 'WT012';
	END IF;
	UPDATE warden.refresh_tokens SET used_at = now() WHERE id = t.id;
	PERFORM warden._audit('token_refreshed', p.name, jsonb_build_object('family', t.family_id));
	RETURN warden._issue_tokens(p, t.amr, t.family_id);
END
$$;
COMMENT ON FUNCTION warden.refresh(text) IS 'rotates a refresh token: returns new tokens; reuse revokes the family';

-- RFC 7009: revoking a token that is already invalid is not an error.
CREATE FUNCTION warden.revoke(token text)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	family uuid;
	claims jsonb;
	pid bigint;
BEGIN
	IF token LIKE 'wrt\_%' THEN
		SELECT family_id INTO family FROM warden.refresh_tokens
		 WHERE token_hash = sha256(convert_to(token, 'UTF8')) AND revoked_at IS NULL;
		IF family IS NULL THEN
			RETURN false;
		END IF;
		PERFORM warden._revoke_family(family, 'revoked');
		RETURN true;
	END IF;
	BEGIN
		claims := warden._token_claims(token);
	EXCEPTION WHEN SQLSTATE 'WT008' THEN
		RETURN false;			-- already revoked
	END;
	IF claims IS NULL THEN
		RETURN false;			-- expired: nothing left to revoke
	END IF;
	SELECT id INTO pid FROM warden.principals WHERE name = claims->>'sub';
	INSERT INTO warden.revoked_tokens (jti, principal_id, expires_at)
	VALUES ((claims->>'jti')::uuid, pid, to_timestamp((claims->>'exp')::double precision))
	ON CONFLICT DO NOTHING;
	PERFORM warden._audit('token_revoked', claims->>'sub', jsonb_build_object('jti', claims->>'jti'));
	RETURN true;
END
$$;
COMMENT ON FUNCTION warden.revoke(text) IS 'revokes an access token, or a refresh token with its family';

CREATE FUNCTION warden.revoke_all(principal text)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	p warden.principals := warden._principal(principal);
BEGIN
	-- Tokens issued in an earlier second fail on their iat; the access
	-- tokens issued with refresh tokens are also revoked by id, which
	-- covers those issued earlier in the same second.
	UPDATE warden.principals SET tokens_valid_after = clock_timestamp(), updated_at = now()
	 WHERE id = p.id;
	PERFORM warden._revoke_sessions(p.id, NULL);
	PERFORM warden._audit('all_tokens_revoked', principal);
END
$$;
COMMENT ON FUNCTION warden.revoke_all(text) IS 'revokes every token of a principal';

-- RFC 7662 token introspection: {"active": false} for any token that does
-- not verify (whatever the reason: the caller learns nothing more), else
-- the claims with active, token_type and username.
CREATE FUNCTION warden.introspect(token text)
RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	claims jsonb;
BEGIN
	BEGIN
		claims := warden.verify(token);
	EXCEPTION WHEN OTHERS THEN
		IF SQLSTATE LIKE 'WT0%' THEN
			RETURN '{"active": false}';
		END IF;
		RAISE;
	END;
	RETURN claims || jsonb_build_object('active', true, 'token_type', 'Bearer',
		'username', claims->>'sub');
END
$$;
COMMENT ON FUNCTION warden.introspect(text) IS 'RFC 7662 introspection of an access token';

/* ------------------------------------------------------------------------
 * Privileges
 * ------------------------------------------------------------------------ */

REVOKE ALL ON FUNCTION warden.create_user(text, text, text),
	warden.create_service_account(text, text), warden.set_password(text, text),
	warden.set_enabled(text, boolean), warden.unlock(text),
	warden.rotate_signing_key(), warden.revoke_all(text),
	warden.verify(text), warden.login(text, text, text), warden.refresh(text),
	warden.revoke(text), warden.introspect(text)
	FROM PUBLIC;
GRANT EXECUTE ON FUNCTION warden.create_user(text, text, text),
	warden.create_service_account(text, text), warden.set_password(text, text),
	warden.set_enabled(text, boolean), warden.unlock(text),
	warden.rotate_signing_key(), warden.revoke_all(text)
	TO warden_admin;
GRANT EXECUTE ON FUNCTION warden.verify(text), warden.login(text, text, text),
	warden.refresh(text), warden.revoke(text), warden.introspect(text)
	TO warden_auth;

/* ------------------------------------------------------------------------
 * Multi-factor authentication (TOTP, RFC 6238)
 * ------------------------------------------------------------------------ */

-- Starts an enrolment: returns the otpauth:// URI for the authenticator
-- app (it holds the secret: show it once, never log it). Login does not
-- ask for a code until mfa_confirm() proves the app has the secret.
CREATE FUNCTION warden.mfa_enroll(principal text)
RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	p warden.principals := warden._principal(principal, 'user');
	e record;
BEGIN
	IF EXISTS (SELECT FROM warden.mfa_totp WHERE principal_id = p.id AND confirmed_at IS NOT NULL) THEN
		RAISE EXCEPTION 'multi-factor authentication is already enabled for "%"', principal
			USING ERRCODE = 'WT203', HINT = 'Disable it with warden.mfa_disable() first.';
	END IF;
	e := warden._totp_enroll(p.id, p.name);
	INSERT INTO warden.mfa_totp (principal_id, secret) VALUES (p.id, e.secret)
	ON CONFLICT (principal_id) DO UPDATE SET secret = excluded.secret, last_step = 0, created_at = now();
	PERFORM warden._audit('mfa_enroll_started', principal);
	RETURN e.uri;
END
$$;
COMMENT ON FUNCTION warden.mfa_enroll(text) IS 'starts TOTP enrolment: returns the otpauth:// URI, once';

CREATE FUNCTION warden.mfa_confirm(principal text, code text)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	p warden.principals := warden._principal(principal, 'user');
	m warden.mfa_totp;
	step bigint;
BEGIN
	SELECT * INTO m FROM warden.mfa_totp WHERE principal_id = p.id FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'no multi-factor enrolment for "%"', principal USING ERRCODE = 'WT204',
			HINT = 'Start one with warden.mfa_enroll().';
	END IF;
	IF m.confirmed_at IS NOT NULL THEN
		RAISE EXCEPTION 'multi-factor authentication is already enabled for "%"', principal
			USING ERRCODE = 'WT203';
	END IF;
	step := warden._totp_check(m.secret, p.id, coalesce(code, ''), m.last_step);
	IF step IS NULL THEN
		RAISE EXCEPTION 'invalid one-time code' USING ERRCODE = 'WT202';
	END IF;
	UPDATE warden.mfa_totp SET confirmed_at = now(), last_step = step WHERE principal_id = p.id;
	PERFORM warden._audit('mfa_enabled', principal);
END
$$;
COMMENT ON FUNCTION warden.mfa_confirm(text, text) IS 'confirms TOTP enrolment with a first code; from then on login needs a code';

CREATE FUNCTION warden.mfa_disable(principal text)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	p warden.principals := warden._principal(principal, 'user');
BEGIN
	DELETE FROM warden.mfa_totp WHERE principal_id = p.id;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'no multi-factor enrolment for "%"', principal USING ERRCODE = 'WT204';
	END IF;
	DELETE FROM warden.recovery_codes WHERE principal_id = p.id;
	PERFORM warden._audit('mfa_disabled', principal);
END
$$;
COMMENT ON FUNCTION warden.mfa_disable(text) IS 'removes a user''s TOTP secret and recovery codes';

-- Ten new recovery codes, shown this once; earlier unused codes stop working.
CREATE FUNCTION warden.mfa_recovery_codes(principal text)
RETURNS SETOF text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	p warden.principals := warden._principal(principal, 'user');
	code text;
BEGIN
	IF NOT EXISTS (SELECT FROM warden.mfa_totp WHERE principal_id = p.id AND confirmed_at IS NOT NULL) THEN
		RAISE EXCEPTION 'multi-factor authentication is not enabled for "%"', principal
			USING ERRCODE = 'WT204';
	END IF;
	DELETE FROM warden.recovery_codes WHERE principal_id = p.id;
	FOR i IN 1..10 LOOP
		code := warden._recovery_code();
		INSERT INTO warden.recovery_codes (principal_id, code_hash)
		VALUES (p.id, warden._recovery_hash(code));
		RETURN NEXT code;
	END LOOP;
	PERFORM warden._audit('mfa_recovery_codes_created', principal);
END
$$;
COMMENT ON FUNCTION warden.mfa_recovery_codes(text) IS 'replaces a user''s recovery codes; returns them once';

REVOKE ALL ON FUNCTION warden.mfa_enroll(text), warden.mfa_confirm(text, text),
	warden.mfa_disable(text), warden.mfa_recovery_codes(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION warden.mfa_enroll(text), warden.mfa_confirm(text, text),
	warden.mfa_recovery_codes(text) TO warden_admin, warden_auth;
GRANT EXECUTE ON FUNCTION warden.mfa_disable(text) TO warden_admin;

/* ------------------------------------------------------------------------
 * API keys of service accounts
 *
 * A key is wdn_<prefix>_<secret>: the prefix (public) finds the row, the
 * SHA-256 digest of the whole key (256 random bits in the secret) is
 * compared in constant time.
 * ------------------------------------------------------------------------ */

-- Every backend caches keys with their accounts (extension/apikeys.c).
CREATE TRIGGER cache_invalidate
	AFTER INSERT OR DELETE OR TRUNCATE
	   OR UPDATE OF principal_id, prefix, key_hash, scopes, expires_at, revoked_at
	ON warden.api_keys FOR EACH STATEMENT EXECUTE FUNCTION warden._cache_invalidate();

CREATE FUNCTION warden.create_api_key(service_account text, scopes text[] DEFAULT '{}',
	expires_at timestamptz DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	p warden.principals := warden._principal(service_account, 'service');
	pfx text := lower(left(replace(warden._random_token(''), '_', ''), 12));
	key text;
	bad text;
BEGIN
	SELECT s INTO bad FROM unnest(coalesce(scopes, '{}')) s
	 WHERE s IS NULL OR s !~ '^[A-Za-z0-9_.*-]+:[A-Za-z0-9_.*-]+$' LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION 'invalid scope "%"', bad USING ERRCODE = '22023',
			HINT = 'A scope is a permission: resource_type:action, either part may be *.';
	END IF;
	IF expires_at <= now() THEN
		RAISE EXCEPTION 'expires_at is in the past' USING ERRCODE = '22023';
	END IF;
	-- lower-case letters and digits only, so the prefix is easy to quote
	pfx := translate(pfx, '-', '0');
	key := 'wdn_' || pfx || '_' || substr(warden._random_token(''), 1, 43);
	INSERT INTO warden.api_keys (principal_id, prefix, key_hash, scopes, expires_at)
	VALUES (p.id, pfx, sha256(convert_to(key, 'UTF8')), coalesce(scopes, '{}'), expires_at);
	PERFORM warden._audit('api_key_created', service_account,
		jsonb_strip_nulls(jsonb_build_object('prefix', pfx, 'scopes', scopes, 'expires_at', expires_at)));
	RETURN key;
END
$$;
COMMENT ON FUNCTION warden.create_api_key(text, text[], timestamptz) IS 'creates an API key for a service account; returns it once';

CREATE FUNCTION warden.verify_api_key(key text)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'warden_verify_api_key'
LANGUAGE C STRICT VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION warden.verify_api_key(text) IS 'checks an API key: its service account, tenant and scopes';

-- Takes the key or its prefix (wdn_<prefix>), so a key can be revoked by
-- the name shown in logs and listings.
CREATE FUNCTION warden.revoke_api_key(key text)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	pfx text := substring(key FROM '^wdn_([a-z0-9]{12})(_|$)');
	who text;
BEGIN
	IF pfx IS NULL THEN
		RAISE EXCEPTION 'not an API key or API key prefix' USING ERRCODE = '22023';
	END IF;
	UPDATE warden.api_keys a SET revoked_at = now()
	 WHERE a.prefix = pfx AND revoked_at IS NULL
	RETURNING (SELECT name FROM warden.principals WHERE id = a.principal_id) INTO who;
	IF NOT FOUND THEN
		RETURN false;
	END IF;
	PERFORM warden._audit('api_key_revoked', who, jsonb_build_object('prefix', pfx));
	RETURN true;
END
$$;
COMMENT ON FUNCTION warden.revoke_api_key(text) IS 'revokes an API key, given the key or its prefix';

-- OAuth 2.0 client credentials: an access token for the key's service
-- account, carrying the key's scopes (when it has any: a key without
-- scopes may do what its account may); no refresh token.
CREATE FUNCTION warden.client_credentials(api_key text)
RETURNS warden.token_response
AS 'MODULE_PATHNAME', 'warden_client_credentials'
LANGUAGE C STRICT VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION warden.client_credentials(text) IS 'issues an access token for a service account''s API key';

REVOKE ALL ON FUNCTION warden.create_api_key(text, text[], timestamptz),
	warden.verify_api_key(text), warden.revoke_api_key(text), warden.client_credentials(text)
	FROM PUBLIC;
GRANT EXECUTE ON FUNCTION warden.create_api_key(text, text[], timestamptz),
	warden.revoke_api_key(text) TO warden_admin;
GRANT EXECUTE ON FUNCTION warden.verify_api_key(text), warden.client_credentials(text)
	TO warden_auth;

/* ------------------------------------------------------------------------
 * Authorization: RBAC with resource-level permissions
 *
 * A permission is resource_type:action, either part may be *. Roles bundle
 * permissions and may inherit other roles (no cycles). Bindings give a
 * principal or a group a role on a scope: * (everywhere) or a resource
 * (tenant:acme, project:7, document:42); a binding on a resource applies to
 * its descendants through warden.resource_parents. An explicit deny beats
 * any allow. Every change bumps warden.policy_version and sends NOTIFY
 * warden_policy with the new version in the same transaction, and drops the
 * decision caches of every backend when it commits.
 * ------------------------------------------------------------------------ */

CREATE TABLE warden.roles (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	name text NOT NULL UNIQUE CHECK (name ~ '^[A-Za-z0-9_.:-]{1,128}$'),
	created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE warden.role_inherits (
	role_id bigint NOT NULL REFERENCES warden.roles ON DELETE CASCADE,
	inherits_id bigint NOT NULL REFERENCES warden.roles ON DELETE CASCADE,
	PRIMARY KEY (role_id, inherits_id),
	CHECK (role_id <> inherits_id)
);

CREATE TABLE warden.role_permissions (
	role_id bigint NOT NULL REFERENCES warden.roles ON DELETE CASCADE,
	resource_type text NOT NULL,
	action text NOT NULL,
	PRIMARY KEY (role_id, resource_type, action)
);

CREATE TABLE warden.group_members (
	group_id bigint NOT NULL REFERENCES warden.principals ON DELETE CASCADE,
	member_id bigint NOT NULL REFERENCES warden.principals ON DELETE CASCADE,
	PRIMARY KEY (group_id, member_id)
);
CREATE INDEX group_members_member ON warden.group_members (member_id);

CREATE TABLE warden.bindings (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	principal_id bigint NOT NULL REFERENCES warden.principals ON DELETE CASCADE,
	role_id bigint NOT NULL REFERENCES warden.roles ON DELETE CASCADE,
	scope text NOT NULL,
	expires_at timestamptz,
	created_at timestamptz NOT NULL DEFAULT now(),
	UNIQUE (principal_id, role_id, scope)
);
CREATE INDEX bindings_role ON warden.bindings (role_id);

CREATE TABLE warden.denies (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	principal_id bigint NOT NULL REFERENCES warden.principals ON DELETE CASCADE,
	resource_type text NOT NULL,
	action text NOT NULL,
	scope text NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now(),
	UNIQUE (principal_id, resource_type, action, scope)
);

CREATE TABLE warden.resource_parents (
	child text PRIMARY KEY,
	parent text NOT NULL,
	CHECK (child <> parent)
);
CREATE INDEX resource_parents_parent ON warden.resource_parents (parent);

CREATE SEQUENCE warden.policy_version;

REVOKE ALL ON warden.roles, warden.role_inherits, warden.role_permissions,
	warden.group_members, warden.bindings, warden.denies, warden.resource_parents,
	warden.policy_version FROM PUBLIC;
GRANT SELECT ON warden.roles, warden.role_inherits, warden.role_permissions,
	warden.group_members, warden.bindings, warden.denies, warden.resource_parents
	TO warden_admin;

CREATE FUNCTION warden._policy_changed() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	PERFORM pg_notify('warden_policy', nextval('warden.policy_version')::text);
	RETURN NULL;
END
$$;

DO $$
DECLARE
	t text;
BEGIN
	FOREACH t IN ARRAY ARRAY['roles', 'role_inherits', 'role_permissions', 'group_members',
	                         'bindings', 'denies', 'resource_parents'] LOOP
		EXECUTE format('CREATE TRIGGER policy_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
			ON warden.%I FOR EACH STATEMENT EXECUTE FUNCTION warden._policy_changed()', t);
		EXECUTE format('CREATE TRIGGER cache_invalidate AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
			ON warden.%I FOR EACH STATEMENT EXECUTE FUNCTION warden._cache_invalidate()', t);
	END LOOP;
END
$$;
-- a principal disabled, renamed or removed changes decisions too
CREATE TRIGGER policy_changed AFTER UPDATE OF name, enabled OR DELETE OR TRUNCATE
	ON warden.principals FOR EACH STATEMENT EXECUTE FUNCTION warden._policy_changed();

CREATE FUNCTION warden.policy_version() RETURNS bigint
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM warden.policy_version $$;
COMMENT ON FUNCTION warden.policy_version() IS 'the version of the authorization policy; NOTIFY warden_policy carries each new one';

-- The roles bound to a principal, directly or through its groups, on any
-- scope, while the binding lasts: the roles claim of its tokens.
CREATE FUNCTION warden.principal_roles(principal text) RETURNS text[]
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT coalesce(array_agg(DISTINCT r.name ORDER BY r.name), '{}')
	  FROM warden.principals p
	  JOIN warden.bindings b
	    ON b.principal_id = p.id
	    OR b.principal_id IN (SELECT group_id FROM warden.group_members WHERE member_id = p.id)
	  JOIN warden.roles r ON r.id = b.role_id
	 WHERE p.name = principal AND (b.expires_at IS NULL OR b.expires_at > now())
$$;
COMMENT ON FUNCTION warden.principal_roles(text) IS 'the roles bound to a principal, directly or through its groups';
REVOKE ALL ON FUNCTION warden.principal_roles(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION warden.principal_roles(text) TO warden_admin, warden_auth;

-- Validation helpers: each raises its own SQLSTATE.
CREATE FUNCTION warden._permission(permission text, OUT resource_type text, OUT action text)
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	m text[] := regexp_match(permission, '^([A-Za-z0-9_.-]+|\*):([A-Za-z0-9_.-]+|\*)$');
BEGIN
	IF m IS NULL THEN
		RAISE EXCEPTION 'malformed permission "%"', permission USING ERRCODE = 'WA002',
			HINT = 'A permission is resource_type:action, for example document:read; either part may be *.';
	END IF;
	resource_type := m[1];
	action := m[2];
END
$$;

CREATE FUNCTION warden._resource(resource text, allow_star boolean) RETURNS text
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF (allow_star AND resource = '*')
	   OR (length(resource) <= 1024 AND resource ~ '^[A-Za-z0-9_.-]+:[^[:space:][:cntrl:]]+$') THEN
		RETURN resource;
	END IF;
	RAISE EXCEPTION 'malformed % "%"', CASE WHEN allow_star THEN 'scope' ELSE 'resource' END, resource
		USING ERRCODE = 'WA003',
		      HINT = 'A resource is type:id, for example document:42 or tenant:acme; a scope may also be *.';
END
$$;

CREATE FUNCTION warden._role(name text) RETURNS bigint
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	id bigint;
BEGIN
	SELECT r.id INTO id FROM warden.roles r WHERE r.name = _role.name;
	IF id IS NULL THEN
		RAISE EXCEPTION 'role "%" does not exist', name USING ERRCODE = 'WA001';
	END IF;
	RETURN id;
END
$$;

CREATE FUNCTION warden.create_role(name text, inherits text[] DEFAULT '{}')
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	id bigint;
	parent text;
BEGIN
	IF name IS NULL OR name !~ '^[A-Za-z0-9_.:-]{1,128}$' THEN
		RAISE EXCEPTION 'malformed role name "%"', name USING ERRCODE = 'WA005',
			HINT = 'Role names are 1 to 128 letters, digits, and _ . : -';
	END IF;
	BEGIN
		INSERT INTO warden.roles (name) VALUES (create_role.name) RETURNING roles.id INTO id;
	EXCEPTION WHEN unique_violation THEN
		RAISE EXCEPTION 'role "%" already exists', name USING ERRCODE = 'WA006';
	END;
	FOREACH parent IN ARRAY coalesce(inherits, '{}') LOOP
		PERFORM warden.add_inherits(name, parent);
	END LOOP;
	PERFORM warden._audit('role_created', NULL, jsonb_build_object('role', name, 'inherits', inherits));
	RETURN id;
END
$$;
COMMENT ON FUNCTION warden.create_role(text, text[]) IS 'creates a role, optionally inheriting the permissions of others';

-- A role inherits another's permissions; a cycle is refused.
CREATE FUNCTION warden.add_inherits(role text, inherits text)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	child bigint := warden._role(role);
	parent bigint := warden._role(inherits);
BEGIN
	-- serialise changes of the role graph, so two concurrent edges cannot
	-- close a cycle together
	LOCK TABLE warden.role_inherits IN SHARE ROW EXCLUSIVE MODE;
	IF child = parent OR EXISTS (
		WITH RECURSIVE up(id) AS (
			SELECT parent
			UNION
			SELECT ri.inherits_id FROM warden.role_inherits ri JOIN up ON ri.role_id = up.id)
		SELECT FROM up WHERE id = child) THEN
		RAISE EXCEPTION 'role "%" cannot inherit "%": that would make a cycle', role, inherits
			USING ERRCODE = 'WA004';
	END IF;
	INSERT INTO warden.role_inherits (role_id, inherits_id) VALUES (child, parent)
	ON CONFLICT DO NOTHING;
	PERFORM warden._audit('role_inherits_added', NULL, jsonb_build_object('role', role, 'inherits', inherits));
END
$$;
COMMENT ON FUNCTION warden.add_inherits(text, text) IS 'makes a role inherit another role''s permissions';

CREATE FUNCTION warden.drop_role(name text)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	DELETE FROM warden.roles r WHERE r.id = warden._role(drop_role.name);
	PERFORM warden._audit('role_dropped', NULL, jsonb_build_object('role', name));
END
$$;
COMMENT ON FUNCTION warden.drop_role(text) IS 'drops a role with its permissions and bindings';

CREATE FUNCTION warden.add_permission(role text, permission text)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	r bigint := warden._role(role);
	p record := warden._permission(permission);
BEGIN
	INSERT INTO warden.role_permissions (role_id, resource_type, action)
	VALUES (r, p.resource_type, p.action) ON CONFLICT DO NOTHING;
	PERFORM warden._audit('permission_added', NULL, jsonb_build_object('role', role, 'permission', permission));
END
$$;
COMMENT ON FUNCTION warden.add_permission(text, text) IS 'adds a permission (resource_type:action) to a role';

CREATE FUNCTION warden.remove_permission(role text, permission text)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	r bigint := warden._role(role);
	p record := warden._permission(permission);
BEGIN
	DELETE FROM warden.role_permissions
	 WHERE role_id = r AND resource_type = p.resource_type AND action = p.action;
	IF NOT FOUND THEN
		RETURN false;
	END IF;
	PERFORM warden._audit('permission_removed', NULL, jsonb_build_object('role', role, 'permission', permission));
	RETURN true;
END
$$;
COMMENT ON FUNCTION warden.remove_permission(text, text) IS 'removes a permission from a role';

CREATE FUNCTION warden.create_group(name text, tenant text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	id bigint;
BEGIN
	IF name IS NULL THEN
		RAISE EXCEPTION 'name must not be null' USING ERRCODE = '22004';
	END IF;
	BEGIN
		INSERT INTO warden.principals (name, kind, tenant) VALUES (create_group.name, 'group', tenant)
		RETURNING principals.id INTO id;
	EXCEPTION WHEN unique_violation THEN
		RAISE EXCEPTION 'principal "%" already exists', name USING ERRCODE = 'WT102';
	END;
	PERFORM warden._audit('group_created', name);
	RETURN id;
END
$$;
COMMENT ON FUNCTION warden.create_group(text, text) IS 'creates a group; a group name may stand where a principal does';

CREATE FUNCTION warden.add_member("group" text, principal text)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	g warden.principals := warden._principal("group", 'group');
	m warden.principals := warden._principal(principal);
BEGIN
	IF m.kind = 'group' THEN
		RAISE EXCEPTION 'a group cannot be a member of a group' USING ERRCODE = 'WA007';
	END IF;
	INSERT INTO warden.group_members (group_id, member_id) VALUES (g.id, m.id) ON CONFLICT DO NOTHING;
	PERFORM warden._audit('member_added', principal, jsonb_build_object('group', "group"));
END
$$;
COMMENT ON FUNCTION warden.add_member(text, text) IS 'adds a user or service account to a group';

CREATE FUNCTION warden.remove_member("group" text, principal text)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	g warden.principals := warden._principal("group", 'group');
	m warden.principals := warden._principal(principal);
BEGIN
	DELETE FROM warden.group_members WHERE group_id = g.id AND member_id = m.id;
	IF NOT FOUND THEN
		RETURN false;
	END IF;
	PERFORM warden._audit('member_removed', principal, jsonb_build_object('group', "group"));
	RETURN true;
END
$$;
COMMENT ON FUNCTION warden.remove_member(text, text) IS 'removes a member from a group';

CREATE FUNCTION warden.grant(principal text, role text, scope text DEFAULT '*',
	expires_at timestamptz DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	p warden.principals := warden._principal(principal);
	r bigint := warden._role(role);
	s text := warden._resource(scope, true);
BEGIN
	IF expires_at <= now() THEN
		RAISE EXCEPTION 'expires_at is in the past' USING ERRCODE = '22023';
	END IF;
	INSERT INTO warden.bindings (principal_id, role_id, scope, expires_at)
	VALUES (p.id, r, s, expires_at)
	ON CONFLICT ON CONSTRAINT bindings_principal_id_role_id_scope_key
	DO UPDATE SET expires_at = excluded.expires_at;
	PERFORM warden._audit('role_granted', principal,
		jsonb_strip_nulls(jsonb_build_object('role', role, 'scope', s, 'expires_at', expires_at)));
END
$$;
COMMENT ON FUNCTION warden.grant(text, text, text, timestamptz) IS 'gives a principal or group a role on a scope (* or a resource), optionally until a time';

CREATE FUNCTION warden.revoke_grant(principal text, role text, scope text DEFAULT '*')
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	p warden.principals := warden._principal(principal);
	r bigint := warden._role(role);
	s text := warden._resource(scope, true);
BEGIN
	DELETE FROM warden.bindings WHERE principal_id = p.id AND role_id = r AND bindings.scope = s;
	IF NOT FOUND THEN
		RETURN false;
	END IF;
	PERFORM warden._audit('role_revoked', principal, jsonb_build_object('role', role, 'scope', s));
	RETURN true;
END
$$;
COMMENT ON FUNCTION warden.revoke_grant(text, text, text) IS 'takes a role on a scope away from a principal or group';

CREATE FUNCTION warden.deny(principal text, permission text, scope text DEFAULT '*')
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	p warden.principals := warden._principal(principal);
	perm record := warden._permission(permission);
	s text := warden._resource(scope, true);
BEGIN
	INSERT INTO warden.denies (principal_id, resource_type, action, scope)
	VALUES (p.id, perm.resource_type, perm.action, s) ON CONFLICT DO NOTHING;
	PERFORM warden._audit('permission_denied', principal,
		jsonb_build_object('permission', permission, 'scope', s));
END
$$;
COMMENT ON FUNCTION warden.deny(text, text, text) IS 'denies a principal or group a permission on a scope; a deny beats any allow';

CREATE FUNCTION warden.remove_deny(principal text, permission text, scope text DEFAULT '*')
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	p warden.principals := warden._principal(principal);
	perm record := warden._permission(permission);
	s text := warden._resource(scope, true);
BEGIN
	DELETE FROM warden.denies
	 WHERE principal_id = p.id AND resource_type = perm.resource_type AND action = perm.action
	   AND denies.scope = s;
	IF NOT FOUND THEN
		RETURN false;
	END IF;
	PERFORM warden._audit('deny_removed', principal, jsonb_build_object('permission', permission, 'scope', s));
	RETURN true;
END
$$;
COMMENT ON FUNCTION warden.remove_deny(text, text, text) IS 'removes an explicit deny';

-- child lies in parent: bindings on parent apply to child. NULL parent
-- detaches the child. A cycle is refused.
CREATE FUNCTION warden.set_parent(child text, parent text)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	PERFORM warden._resource(child, false);
	LOCK TABLE warden.resource_parents IN SHARE ROW EXCLUSIVE MODE;
	IF parent IS NULL THEN
		DELETE FROM warden.resource_parents rp WHERE rp.child = set_parent.child;
	ELSE
		PERFORM warden._resource(parent, false);
		IF child = parent OR EXISTS (
			WITH RECURSIVE up(res) AS (
				SELECT parent
				UNION
				SELECT rp.parent FROM warden.resource_parents rp JOIN up ON rp.child = up.res)
			SELECT FROM up WHERE res = child) THEN
			RAISE EXCEPTION 'resource "%" cannot lie in "%": that would make a cycle', child, parent
				USING ERRCODE = 'WA004';
		END IF;
		INSERT INTO warden.resource_parents (child, parent) VALUES (child, parent)
		ON CONFLICT ON CONSTRAINT resource_parents_pkey DO UPDATE SET parent = excluded.parent;
	END IF;
	PERFORM warden._audit('parent_set', NULL, jsonb_build_object('child', child, 'parent', parent));
END
$$;
COMMENT ON FUNCTION warden.set_parent(text, text) IS 'places a resource in a parent resource (NULL detaches it)';

/*
 * The decision, computed from the tables; warden.check() caches it per
 * backend. Returns allowed (until when), and the deny or the binding and
 * role behind it. A set-returning SQL function without SET options, so that
 * PostgreSQL inlines it into check()'s prepared plan; every name in it is
 * schema-qualified, and its callers pin search_path.
 */
CREATE FUNCTION warden._decide(principal text, resource_type text, action text, resource text)
RETURNS TABLE (allowed boolean, allowed_until timestamptz, denied_by jsonb, granted_by jsonb)
LANGUAGE sql STABLE
AS $$
	WITH RECURSIVE
	p AS (SELECT id FROM warden.principals WHERE name = principal AND enabled),
	subjects(id, via) AS (
		SELECT id, NULL::text FROM p
		UNION ALL
		SELECT gm.group_id, g.name
		  FROM warden.group_members gm JOIN p ON gm.member_id = p.id
		  JOIN warden.principals g ON g.id = gm.group_id AND g.enabled),
	chain(res, depth) AS (
		SELECT resource, 0
		UNION ALL
		SELECT rp.parent, c.depth + 1
		  FROM chain c JOIN warden.resource_parents rp ON rp.child = c.res
		 WHERE c.depth < 64),
	scopes(res, depth) AS (SELECT res, depth FROM chain UNION ALL SELECT '*', 1000),
	deny AS (
		SELECT jsonb_build_object('principal', coalesce(s.via, principal),
		                          'permission', d.resource_type || ':' || d.action,
		                          'scope', d.scope) AS why
		  FROM warden.denies d
		  JOIN subjects s ON s.id = d.principal_id
		  JOIN scopes sc ON sc.res = d.scope
		 WHERE d.resource_type IN (_decide.resource_type, '*') AND d.action IN (_decide.action, '*')
		 ORDER BY sc.depth LIMIT 1),
	bound AS (
		SELECT b.role_id, b.scope, b.expires_at, s.via, sc.depth
		  FROM warden.bindings b
		  JOIN subjects s ON s.id = b.principal_id
		  JOIN scopes sc ON sc.res = b.scope
		 WHERE b.expires_at IS NULL OR b.expires_at > now()),
	reach(role_id, bound_role, scope, expires_at, via, depth, path) AS (
		SELECT role_id, role_id, scope, expires_at, via, depth, ARRAY[role_id] FROM bound
		UNION ALL
		SELECT ri.inherits_id, r.bound_role, r.scope, r.expires_at, r.via, r.depth, r.path || ri.inherits_id
		  FROM reach r JOIN warden.role_inherits ri ON ri.role_id = r.role_id
		 WHERE NOT ri.inherits_id = ANY (r.path)),
	grant_ AS (
		SELECT r.*, rp.resource_type || ':' || rp.action AS permission
		  FROM reach r JOIN warden.role_permissions rp ON rp.role_id = r.role_id
		 WHERE rp.resource_type IN (_decide.resource_type, '*') AND rp.action IN (_decide.action, '*'))
	SELECT (SELECT why FROM deny) IS NULL AND EXISTS (SELECT FROM grant_),
	       CASE WHEN (SELECT why FROM deny) IS NULL AND EXISTS (SELECT FROM grant_)
	            THEN (SELECT CASE WHEN bool_or(expires_at IS NULL) THEN 'infinity'::timestamptz
	                              ELSE max(expires_at) END FROM grant_) END,
	       (SELECT why FROM deny),
	       (SELECT jsonb_build_object(
	                 'principal', coalesce(g.via, principal),
	                 'role', (SELECT name FROM warden.roles WHERE id = g.bound_role),
	                 'scope', g.scope,
	                 'inherited_from', CASE WHEN g.role_id <> g.bound_role
	                                        THEN (SELECT name FROM warden.roles WHERE id = g.role_id) END,
	                 'permission', g.permission,
	                 'expires_at', g.expires_at)
	          FROM grant_ g ORDER BY g.depth, g.via NULLS FIRST, cardinality(g.path) LIMIT 1)
$$;

-- scopes narrow the decision to what they name (an API key's scopes); left
-- NULL, the scope claim of warden.claims narrows it when the claims are the
-- principal's own.
CREATE FUNCTION warden.check(principal text, permission text, resource text, scopes text[] DEFAULT NULL)
RETURNS boolean
AS 'MODULE_PATHNAME', 'warden_check'
LANGUAGE C STABLE PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION warden.check(text, text, text, text[]) IS 'may the principal (or group) do permission on resource?';

CREATE FUNCTION warden.explain_check(principal text, permission text, resource text)
RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	perm record := warden._permission(permission);
	res text := warden._resource(resource, false);
	d record;
	path text[];
	pr warden.principals;
BEGIN
	SELECT * INTO pr FROM warden.principals WHERE name = principal;
	WITH RECURSIVE chain(r, depth) AS (
		SELECT res, 0
		UNION ALL
		SELECT rp.parent, c.depth + 1 FROM chain c JOIN warden.resource_parents rp ON rp.child = c.r
		 WHERE c.depth < 64)
	SELECT array_agg(r ORDER BY depth) INTO path FROM chain;
	SELECT * INTO d FROM warden._decide(principal, perm.resource_type, perm.action, res);
	RETURN jsonb_strip_nulls(jsonb_build_object(
		'allowed', d.allowed,
		'principal', principal,
		'permission', permission,
		'resource', res,
		'path', to_jsonb(path || '*'::text),
		'denied_by', d.denied_by,
		'granted_by', CASE WHEN d.denied_by IS NULL THEN d.granted_by END,
		'reason', CASE
			WHEN pr.id IS NULL THEN 'unknown principal'
			WHEN NOT pr.enabled THEN 'principal disabled'
			WHEN d.denied_by IS NOT NULL THEN 'explicitly denied'
			WHEN d.allowed THEN 'granted'
			ELSE 'no binding grants this permission' END));
END
$$;
COMMENT ON FUNCTION warden.explain_check(text, text, text) IS 'the decision of check() and the binding, role, deny and path behind it';

-- List-objects: the resources of a type the principal may act on, among
-- the resources warden knows (placed with set_parent, or named by a
-- binding or deny). Complete, in resource order, pageable by keyset: pass
-- the last resource of a page as after.
CREATE FUNCTION warden.permitted(principal text, permission text, resource_type text,
	after text DEFAULT NULL, page_size integer DEFAULT NULL)
RETURNS SETOF text
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	perm record := warden._permission(permission);
BEGIN
	IF resource_type IS NULL OR resource_type !~ '^[A-Za-z0-9_.-]+$' THEN
		RAISE EXCEPTION 'malformed resource type "%"', resource_type USING ERRCODE = 'WA003';
	END IF;
	IF page_size IS NOT NULL AND page_size < 1 THEN
		RAISE EXCEPTION 'page_size must be positive' USING ERRCODE = '22023';
	END IF;
	RETURN QUERY
	WITH RECURSIVE
	p AS (SELECT id FROM warden.principals WHERE name = principal AND enabled),
	subjects(id) AS (
		SELECT id FROM p
		UNION
		SELECT gm.group_id FROM warden.group_members gm JOIN p ON gm.member_id = p.id
		  JOIN warden.principals g ON g.id = gm.group_id AND g.enabled),
	bound(role_id, scope) AS (
		SELECT b.role_id, b.scope FROM warden.bindings b JOIN subjects s ON s.id = b.principal_id
		 WHERE b.expires_at IS NULL OR b.expires_at > now()),
	reach(role_id, scope, path) AS (
		SELECT role_id, scope, ARRAY[role_id] FROM bound
		UNION ALL
		SELECT ri.inherits_id, r.scope, r.path || ri.inherits_id
		  FROM reach r JOIN warden.role_inherits ri ON ri.role_id = r.role_id
		 WHERE NOT ri.inherits_id = ANY (r.path)),
	granting AS (
		SELECT DISTINCT r.scope FROM reach r JOIN warden.role_permissions rp ON rp.role_id = r.role_id
		 WHERE rp.resource_type IN (perm.resource_type, '*') AND rp.action IN (perm.action, '*')),
	denying AS (
		SELECT DISTINCT d.scope FROM warden.denies d JOIN subjects s ON s.id = d.principal_id
		 WHERE d.resource_type IN (perm.resource_type, '*') AND d.action IN (perm.action, '*')),
	known(r) AS (
		SELECT child FROM warden.resource_parents
		UNION SELECT parent FROM warden.resource_parents
		UNION SELECT scope FROM warden.bindings WHERE scope <> '*'
		UNION SELECT scope FROM warden.denies WHERE scope <> '*'),
	allowed_down(r) AS (
		SELECT scope FROM granting WHERE scope <> '*'
		UNION
		SELECT rp.child FROM warden.resource_parents rp JOIN allowed_down a ON rp.parent = a.r),
	denied_down(r) AS (
		SELECT scope FROM denying WHERE scope <> '*'
		UNION
		SELECT rp.child FROM warden.resource_parents rp JOIN denied_down d ON rp.parent = d.r),
	candidates(r) AS (
		SELECT k.r FROM known k WHERE EXISTS (SELECT FROM granting WHERE scope = '*')
		UNION
		SELECT a.r FROM allowed_down a)
	SELECT c.r FROM candidates c
	 WHERE c.r LIKE replace(replace(resource_type, '_', '\_'), '%', '\%') || ':%'
	   AND NOT EXISTS (SELECT FROM denying WHERE scope = '*')
	   AND NOT EXISTS (SELECT FROM denied_down d WHERE d.r = c.r)
	   AND (after IS NULL OR c.r > after)
	 ORDER BY c.r
	 LIMIT page_size;
END
$$;
COMMENT ON FUNCTION warden.permitted(text, text, text, text, integer) IS 'the resources of a type the principal may act on (list-objects), pageable';

-- The principal of the current request, set by the edge with SET LOCAL
-- warden.principal (only members of warden_auth may set it).
CREATE FUNCTION warden.current_principal() RETURNS text
AS 'MODULE_PATHNAME', 'warden_current_principal'
LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION warden.current_principal() IS 'the principal of the current request (warden.principal), or NULL';

CREATE FUNCTION warden.current_claims() RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT nullif(current_setting('warden.claims', true), '')::jsonb $$;
COMMENT ON FUNCTION warden.current_claims() IS 'the verified token claims of the current request (warden.claims), or NULL';

CREATE FUNCTION warden.check_all(principal text, requests text[][])
RETURNS TABLE (permission text, resource text, allowed boolean)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT requests[i][1], requests[i][2], warden.check(principal, requests[i][1], requests[i][2])
	  FROM generate_subscripts(requests, 1) i
$$;
COMMENT ON FUNCTION warden.check_all(text, text[][]) IS 'many (permission, resource) checks for one principal: ARRAY[[permission, resource], ...]';

REVOKE ALL ON FUNCTION warden._policy_changed(), warden._permission(text), warden._resource(text, boolean),
	warden._role(text), warden._decide(text, text, text, text), warden.explain_check(text, text, text),
	warden.create_role(text, text[]), warden.add_inherits(text, text), warden.drop_role(text),
	warden.add_permission(text, text), warden.remove_permission(text, text),
	warden.create_group(text, text), warden.add_member(text, text), warden.remove_member(text, text),
	warden.grant(text, text, text, timestamptz), warden.revoke_grant(text, text, text),
	warden.deny(text, text, text), warden.remove_deny(text, text, text),
	warden.set_parent(text, text)
	FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
	warden.create_role(text, text[]), warden.add_inherits(text, text), warden.drop_role(text),
	warden.add_permission(text, text), warden.remove_permission(text, text),
	warden.create_group(text, text), warden.add_member(text, text), warden.remove_member(text, text),
	warden.grant(text, text, text, timestamptz), warden.revoke_grant(text, text, text),
	warden.deny(text, text, text), warden.remove_deny(text, text, text),
	warden.set_parent(text, text)
	TO warden_admin;
GRANT EXECUTE ON FUNCTION warden.explain_check(text, text, text) TO warden_admin, warden_auth;
-- check, check_all, current_principal, current_claims and policy_version
-- stay callable by everyone: RLS policies call them.

/* ------------------------------------------------------------------------
 * Encryption at rest (AES-256-GCM under the master key)
 * ------------------------------------------------------------------------ */

CREATE FUNCTION warden.encrypt(data bytea, context text DEFAULT '')
RETURNS bytea
AS 'MODULE_PATHNAME', 'warden_encrypt'
LANGUAGE C STRICT VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION warden.encrypt(bytea, text) IS 'AES-256-GCM under the master key, bound to a context; the result names its key';

CREATE FUNCTION warden.decrypt(data bytea, context text DEFAULT '')
RETURNS bytea
AS 'MODULE_PATHNAME', 'warden_decrypt'
LANGUAGE C STRICT VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION warden.decrypt(bytea, text) IS 'opens what warden.encrypt() sealed (with the same context)';

CREATE FUNCTION warden.reencrypt(data bytea, context text DEFAULT '')
RETURNS bytea
AS 'MODULE_PATHNAME', 'warden_reencrypt'
LANGUAGE C STRICT VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION warden.reencrypt(bytea, text) IS 'seals encrypted data again under the current master key (after a rotation)';

CREATE FUNCTION warden._reseal(sealed bytea, context text) RETURNS bytea
AS 'MODULE_PATHNAME', 'warden_reseal' LANGUAGE C STRICT VOLATILE;

CREATE FUNCTION warden._hmac_hex(key bytea, data text) RETURNS text
AS 'MODULE_PATHNAME', 'warden_hmac_hex' LANGUAGE C STRICT IMMUTABLE;

-- Keys of warden's own, sealed under the master key: the pseudonym key
-- (so pseudonyms survive a master key rotation).
CREATE TABLE warden.keyring (
	name text PRIMARY KEY,
	secret bytea NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now()
);
REVOKE ALL ON warden.keyring FROM PUBLIC;

-- A stable pseudonym of a value: HMAC-SHA-256 under the pseudonym key,
-- created on first use. The same value always gives the same pseudonym,
-- so erased people stay joinable in the audit log without being named.
CREATE FUNCTION warden.pseudonym(value text)
RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	sealed bytea;
BEGIN
	IF value IS NULL THEN
		RETURN NULL;
	END IF;
	SELECT secret INTO sealed FROM warden.keyring WHERE name = 'pseudonym';
	IF NOT FOUND THEN
		INSERT INTO warden.keyring (name, secret)
		VALUES ('pseudonym', warden.encrypt(decode(translate(warden._random_token(''), '-_', '+/') || '=', 'base64'), 'keyring/pseudonym'))
		ON CONFLICT (name) DO NOTHING;
		SELECT secret INTO sealed FROM warden.keyring WHERE name = 'pseudonym';
	END IF;
	RETURN 'anon-' || left(warden._hmac_hex(warden.decrypt(sealed, 'keyring/pseudonym'), value), 20);
END
$$;
COMMENT ON FUNCTION warden.pseudonym(text) IS 'a stable keyed pseudonym of a value (HMAC-SHA-256)';

-- Seals every secret warden stores again under the current master key.
-- Run it after pointing warden.master_key_file at a new key (with the old
-- one in warden.master_key_previous_files); returns how many it re-sealed.
CREATE FUNCTION warden.rotate_master_key()
RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	n integer := 0;
	c integer;
BEGIN
	UPDATE warden.signing_keys k
	   SET private_key = warden._reseal(private_key, 'warden/signing_key/' || kid)
	 WHERE warden._reseal(private_key, 'warden/signing_key/' || kid) IS NOT NULL;
	GET DIAGNOSTICS c = ROW_COUNT;
	n := n + c;
	UPDATE warden.mfa_totp
	   SET secret = warden._reseal(secret, 'warden/totp/' || principal_id)
	 WHERE warden._reseal(secret, 'warden/totp/' || principal_id) IS NOT NULL;
	GET DIAGNOSTICS c = ROW_COUNT;
	n := n + c;
	UPDATE warden.keyring
	   SET secret = warden._reseal(secret, 'warden/data/keyring/' || name)
	 WHERE warden._reseal(secret, 'warden/data/keyring/' || name) IS NOT NULL;
	GET DIAGNOSTICS c = ROW_COUNT;
	n := n + c;
	PERFORM warden._audit('master_key_rotated', NULL, jsonb_build_object('resealed', n));
	RETURN n;
END
$$;
COMMENT ON FUNCTION warden.rotate_master_key() IS 'seals every stored secret again under the current master key';

/* ------------------------------------------------------------------------
 * GDPR: right of access, right to erasure, audit retention
 * ------------------------------------------------------------------------ */

CREATE FUNCTION warden.export_principal(principal text)
RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	p warden.principals := warden._principal(principal);
BEGIN
	RETURN jsonb_build_object(
		'principal', jsonb_build_object('name', p.name, 'kind', p.kind, 'tenant', p.tenant,
			'enabled', p.enabled, 'created_at', p.created_at, 'updated_at', p.updated_at,
			'locked_until', p.locked_until),
		'password', (SELECT jsonb_build_object('set', true, 'changed_at', changed_at)
		               FROM warden.passwords WHERE principal_id = p.id),
		'mfa', (SELECT jsonb_build_object('enrolled_at', created_at, 'confirmed_at', confirmed_at,
		                   'recovery_codes_left',
		                   (SELECT count(*) FROM warden.recovery_codes
		                     WHERE principal_id = p.id AND used_at IS NULL))
		          FROM warden.mfa_totp WHERE principal_id = p.id),
		'groups', (SELECT coalesce(jsonb_agg(g.name ORDER BY g.name), '[]')
		             FROM warden.group_members gm JOIN warden.principals g ON g.id = gm.group_id
		            WHERE gm.member_id = p.id),
		'grants', (SELECT coalesce(jsonb_agg(jsonb_build_object('role', r.name, 'scope', b.scope,
		                      'expires_at', b.expires_at, 'created_at', b.created_at)
		                      ORDER BY r.name, b.scope), '[]')
		             FROM warden.bindings b JOIN warden.roles r ON r.id = b.role_id
		            WHERE b.principal_id = p.id),
		'denies', (SELECT coalesce(jsonb_agg(jsonb_build_object('permission',
		                      d.resource_type || ':' || d.action, 'scope', d.scope)), '[]')
		             FROM warden.denies d WHERE d.principal_id = p.id),
		'sessions', (SELECT coalesce(jsonb_agg(jsonb_build_object('family', family_id,
		                      'issued_at', issued_at, 'expires_at', expires_at, 'used_at', used_at,
		                      'revoked_at', revoked_at, 'amr', amr) ORDER BY issued_at), '[]')
		               FROM warden.refresh_tokens WHERE principal_id = p.id),
		'api_keys', (SELECT coalesce(jsonb_agg(jsonb_build_object('prefix', prefix, 'scopes', scopes,
		                      'created_at', created_at, 'expires_at', expires_at,
		                      'last_used_at', last_used_at, 'revoked_at', revoked_at)
		                      ORDER BY created_at), '[]')
		               FROM warden.api_keys WHERE principal_id = p.id),
		'audit', (SELECT coalesce(jsonb_agg(jsonb_build_object('at', at, 'event', event,
		                   'actor', actor, 'detail', detail) ORDER BY id), '[]')
		            FROM warden.audit_log WHERE audit_log.principal = p.name));
END
$$;
COMMENT ON FUNCTION warden.export_principal(text) IS 'everything warden holds about a principal, without secrets (right of access)';

-- Right to erasure: every credential and session ends, personal data is
-- deleted, the principal row stays (other rows refer to it) under a
-- pseudonym, disabled, and the audit log keeps its rows with the person
-- replaced by the same pseudonym.
CREATE FUNCTION warden.erase_principal(principal text)
RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	p warden.principals := warden._principal(principal);
	alias text := warden.pseudonym(principal);
BEGIN
	PERFORM warden.revoke_all(principal);
	UPDATE warden.api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE principal_id = p.id;
	DELETE FROM warden.passwords WHERE principal_id = p.id;
	DELETE FROM warden.mfa_totp WHERE principal_id = p.id;
	DELETE FROM warden.recovery_codes WHERE principal_id = p.id;
	DELETE FROM warden.group_members WHERE member_id = p.id OR group_id = p.id;
	DELETE FROM warden.bindings WHERE principal_id = p.id;
	DELETE FROM warden.denies WHERE principal_id = p.id;
	UPDATE warden.principals
	   SET name = alias, tenant = NULL, enabled = false, failed_logins = 0,
	       locked_until = NULL, updated_at = now()
	 WHERE id = p.id;
	UPDATE warden.audit_log SET principal = alias WHERE audit_log.principal = erase_principal.principal;
	PERFORM warden._audit('principal_erased', alias);
	RETURN alias;
END
$$;
COMMENT ON FUNCTION warden.erase_principal(text) IS 'erases a principal''s personal data, revokes all its credentials; returns its pseudonym';

-- Deletes audit rows older than warden.audit_retention, and revocations
-- and refresh tokens that can no longer matter, in small batches so that
-- no lock is held for long. Returns the number of rows deleted.
CREATE FUNCTION warden.purge(batch_size integer DEFAULT 10000)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	keep interval := make_interval(secs => warden._setting_seconds('warden.audit_retention'));
	total bigint := 0;
	c bigint;
BEGIN
	IF batch_size IS NULL OR batch_size < 1 THEN
		RAISE EXCEPTION 'batch_size must be positive' USING ERRCODE = '22023';
	END IF;
	LOOP
		DELETE FROM warden.audit_log WHERE id IN
			(SELECT id FROM warden.audit_log WHERE at < now() - keep ORDER BY id LIMIT batch_size);
		GET DIAGNOSTICS c = ROW_COUNT;
		total := total + c;
		EXIT WHEN c < batch_size;
	END LOOP;
	DELETE FROM warden.revoked_tokens
	 WHERE expires_at < now() - make_interval(secs => warden._setting_seconds('warden.token_leeway'));
	GET DIAGNOSTICS c = ROW_COUNT;
	total := total + c;
	DELETE FROM warden.refresh_tokens WHERE expires_at < now() - interval '1 day';
	GET DIAGNOSTICS c = ROW_COUNT;
	total := total + c;
	RETURN total;
END
$$;
COMMENT ON FUNCTION warden.purge(integer) IS 'deletes audit rows past warden.audit_retention and expired revocations and refresh tokens';

REVOKE ALL ON FUNCTION warden.encrypt(bytea, text), warden.decrypt(bytea, text),
	warden.reencrypt(bytea, text), warden._reseal(bytea, text), warden._hmac_hex(bytea, text),
	warden.pseudonym(text), warden.rotate_master_key(), warden.export_principal(text),
	warden.erase_principal(text), warden.purge(integer)
	FROM PUBLIC;
GRANT EXECUTE ON FUNCTION warden.encrypt(bytea, text), warden.decrypt(bytea, text),
	warden.reencrypt(bytea, text), warden.pseudonym(text), warden.rotate_master_key(),
	warden.export_principal(text), warden.erase_principal(text), warden.purge(integer)
	TO warden_admin;

/* ------------------------------------------------------------------------
 * PII masking (core/pii.c: the same scanner as the edge's access log)
 * ------------------------------------------------------------------------ */

CREATE FUNCTION warden.mask(value text) RETURNS text
AS 'MODULE_PATHNAME', 'warden_mask'
LANGUAGE C STRICT STABLE PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION warden.mask(text) IS 'the text with every PII finding masked (warden.mask_style, warden.mask_styles)';

CREATE FUNCTION warden.mask_jsonb(value jsonb) RETURNS jsonb
AS 'MODULE_PATHNAME', 'warden_mask_jsonb'
LANGUAGE C STRICT STABLE PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION warden.mask_jsonb(jsonb) IS 'the document with PII in strings masked, and values under keys naming PII masked whole';

CREATE FUNCTION warden.find_pii(value text, OUT type text, OUT start integer, OUT length integer)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'warden_find_pii'
LANGUAGE C STRICT STABLE PARALLEL SAFE;
COMMENT ON FUNCTION warden.find_pii(text) IS 'every PII finding: its type, start (1-based, in characters) and length';

CREATE FUNCTION warden.mask_value(value text, style text) RETURNS text
AS 'MODULE_PATHNAME', 'warden_mask_value'
LANGUAGE C STRICT STABLE PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION warden.mask_value(text, text) IS 'a whole value masked in a style: full, partial, hash or scan';

CREATE TABLE warden.column_masks (
	table_oid regclass NOT NULL,
	column_name name NOT NULL,
	style text NOT NULL CHECK (style IN ('full', 'partial', 'hash', 'scan')),
	PRIMARY KEY (table_oid, column_name)
);
REVOKE ALL ON warden.column_masks FROM PUBLIC;
GRANT SELECT ON warden.column_masks TO warden_admin;

-- May the current caller read the table's PII? Members of
-- warden_pii_reader, and request principals holding pii:read on
-- table:<schema>.<table> (or any wider scope).
CREATE FUNCTION warden.pii_reader(tbl regclass) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT pg_has_role(current_user, 'warden_pii_reader', 'MEMBER')
	    OR warden.check(warden.current_principal(), 'pii:read',
	                    'table:' || (SELECT n.nspname || '.' || c.relname
	                                   FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
	                                  WHERE c.oid = tbl))
$$;
COMMENT ON FUNCTION warden.pii_reader(regclass) IS 'may the caller see the unmasked columns of the table?';

-- (Re)creates <table>_masked beside the table: every column, the masked
-- ones through warden.mask_value() for callers who are not PII readers.
-- security_invoker: the caller's own privileges and row level security
-- apply, as if they read the table.
CREATE FUNCTION warden._refresh_masked_view(tbl regclass) RETURNS text
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	nsp name;
	rel name;
	cols text;
	view text;
BEGIN
	SELECT n.nspname, c.relname INTO nsp, rel
	  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = tbl;
	view := format('%I.%I', nsp, rel || '_masked');
	IF NOT EXISTS (SELECT FROM warden.column_masks WHERE table_oid = tbl) THEN
		IF to_regclass(view) IS NOT NULL THEN
			EXECUTE format('DROP VIEW %s', view);
		END IF;
		RETURN NULL;
	END IF;
	SELECT string_agg(CASE WHEN m.style IS NULL THEN format('%I', a.attname)
	                       ELSE format('CASE WHEN warden.pii_reader(%L::regclass) THEN %I::text ELSE warden.mask_value(%I::text, %L) END AS %I',
	                                   tbl::oid::regclass::text, a.attname, a.attname, m.style, a.attname) END,
	                  ', ' ORDER BY a.attnum)
	  INTO cols
	  FROM pg_attribute a
	  LEFT JOIN warden.column_masks m ON m.table_oid = tbl AND m.column_name = a.attname
	 WHERE a.attrelid = tbl AND a.attnum > 0 AND NOT a.attisdropped;
	IF to_regclass(view) IS NOT NULL THEN
		EXECUTE format('DROP VIEW %s', view);
	END IF;
	EXECUTE format('CREATE VIEW %s WITH (security_invoker = true, security_barrier = true) AS SELECT %s FROM %s',
	               view, cols, tbl::text);
	EXECUTE format('COMMENT ON VIEW %s IS %L', view,
	               'masked view of ' || tbl::text || ', made by warden.mask_column()');
	RETURN view;
END
$$;

CREATE FUNCTION warden.mask_column(tbl regclass, col name, style text DEFAULT 'full')
RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v text;
BEGIN
	IF NOT EXISTS (SELECT FROM pg_attribute WHERE attrelid = tbl AND attname = col
	               AND attnum > 0 AND NOT attisdropped) THEN
		RAISE EXCEPTION 'column "%" of % does not exist', col, tbl USING ERRCODE = '42703';
	END IF;
	IF style IS NULL OR style NOT IN ('full', 'partial', 'hash', 'scan', 'off') THEN
		RAISE EXCEPTION 'unknown masking style "%"', style USING ERRCODE = '22023',
			HINT = 'The styles are full, partial, hash, scan, and off to remove a rule.';
	END IF;
	IF style = 'off' THEN
		DELETE FROM warden.column_masks WHERE table_oid = tbl AND column_name = col;
	ELSE
		INSERT INTO warden.column_masks (table_oid, column_name, style) VALUES (tbl, col, style)
		ON CONFLICT ON CONSTRAINT column_masks_pkey DO UPDATE SET style = excluded.style;
	END IF;
	v := warden._refresh_masked_view(tbl);
	PERFORM warden._audit('column_mask_set', NULL,
		jsonb_build_object('table', tbl::text, 'column', col, 'style', style));
	RETURN v;
END
$$;
COMMENT ON FUNCTION warden.mask_column(regclass, name, text) IS 'masks a column for callers without pii:read, through the view <table>_masked';

REVOKE ALL ON FUNCTION warden._refresh_masked_view(regclass), warden.mask_column(regclass, name, text)
	FROM PUBLIC;
GRANT EXECUTE ON FUNCTION warden.mask_column(regclass, name, text) TO warden_admin;

/* ------------------------------------------------------------------------
 * Outbox
 *
 * warden.publish() keeps its messages in the calling backend until the
 * transaction commits; just before the commit it takes a lock per key
 * (exchange, routing key), numbers the messages from outbox_id_seq and
 * inserts them. A key's lock is held until the commit is visible, so per key
 * the ids rise in commit order, and a row that becomes visible never has a
 * lower id than a delivered row of its key. Background workers publish the
 * pending rows of their keys in id order to RabbitMQ with publisher
 * confirms, mark them delivered after the broker's ack, and purge delivered
 * rows after warden.outbox_retention.
 * ------------------------------------------------------------------------ */

DO $$
BEGIN
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'warden_publisher') THEN
		CREATE ROLE warden_publisher NOLOGIN;
	END IF;
END
$$;

CREATE SEQUENCE warden.outbox_id_seq AS bigint;

CREATE TABLE warden.outbox (
	id				bigint PRIMARY KEY,
	message_id		uuid NOT NULL,
	exchange		text NOT NULL,
	routing_key		text NOT NULL,
	key_hash		bigint NOT NULL,		-- core/outbox.c: outbox_key_hash()
	payload			jsonb NOT NULL,
	headers			jsonb NOT NULL,
	published_at	timestamptz NOT NULL,	-- when publish() was called
	committed_at	timestamptz NOT NULL,	-- when its transaction committed
	state			text NOT NULL DEFAULT 'pending'
		CHECK (state IN ('pending', 'delivered', 'dead')),
	attempts		integer NOT NULL DEFAULT 0,
	next_attempt_at	timestamptz,
	last_error		text,
	delivered_at	timestamptz
) WITH (fillfactor = 90,
		-- rows change state once and are purged: keep vacuum close behind
		autovacuum_vacuum_scale_factor = 0.02, autovacuum_vacuum_insert_scale_factor = 0.02,
		autovacuum_analyze_scale_factor = 0.05);
ALTER SEQUENCE warden.outbox_id_seq OWNED BY warden.outbox.id;
CREATE INDEX outbox_pending ON warden.outbox (id) WHERE state = 'pending';
CREATE INDEX outbox_delivered ON warden.outbox (delivered_at) WHERE state = 'delivered';
CREATE INDEX outbox_message_id ON warden.outbox (message_id);
GRANT SELECT ON warden.outbox TO warden_admin;
COMMENT ON TABLE warden.outbox IS 'messages published with warden.publish(): pending, delivered (until purged) and dead';

CREATE VIEW warden.outbox_dead AS
	SELECT id, message_id, exchange, routing_key, payload, headers, published_at,
	       committed_at, attempts, last_error, next_attempt_at AS failed_at
	  FROM warden.outbox WHERE state = 'dead';
GRANT SELECT ON warden.outbox_dead TO warden_admin;
COMMENT ON VIEW warden.outbox_dead IS 'messages that failed warden.outbox_max_attempts times, with their last error';

CREATE FUNCTION warden.publish(exchange text, routing_key text, payload jsonb,
							   headers jsonb DEFAULT '{}',
							   message_id uuid DEFAULT gen_random_uuid())
RETURNS uuid
AS 'MODULE_PATHNAME', 'warden_publish'
LANGUAGE C VOLATILE SECURITY DEFINER PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION warden.publish(text, text, jsonb, jsonb, uuid) IS 'publishes a message to RabbitMQ when, and only if, the calling transaction commits';

CREATE FUNCTION warden._outbox_wake()
RETURNS void
AS 'MODULE_PATHNAME', 'warden_outbox_wake'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION warden.outbox_workers(
	OUT worker integer, OUT database name, OUT pid integer, OUT state text,
	OUT connected boolean, OUT started_at timestamptz, OUT delivered bigint,
	OUT failed bigint, OUT last_delivery_at timestamptz, OUT last_error text,
	OUT last_error_at timestamptz)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'warden_outbox_worker_states'
LANGUAGE C VOLATILE PARALLEL RESTRICTED;
COMMENT ON FUNCTION warden.outbox_workers() IS 'the outbox workers serving this database: state, counters since they started, last error';

CREATE FUNCTION warden.outbox_stats(
	OUT pending bigint, OUT oldest_pending_age interval, OUT retrying bigint,
	OUT delivered bigint, OUT dead bigint, OUT delivered_total bigint,
	OUT failed_total bigint, OUT workers jsonb)
RETURNS record
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT (SELECT count(*) FROM warden.outbox WHERE state = 'pending'),
	       (SELECT now() - min(committed_at) FROM warden.outbox WHERE state = 'pending'),
	       (SELECT count(*) FROM warden.outbox WHERE state = 'pending' AND attempts > 0),
	       (SELECT count(*) FROM warden.outbox WHERE state = 'delivered'),
	       (SELECT count(*) FROM warden.outbox WHERE state = 'dead'),
	       coalesce(sum(w.delivered), 0)::bigint,
	       coalesce(sum(w.failed), 0)::bigint,
	       coalesce(jsonb_agg(to_jsonb(w) ORDER BY w.worker), '[]')
	  FROM warden.outbox_workers() w
$$;
COMMENT ON FUNCTION warden.outbox_stats() IS 'outbox backlog, counts and worker states, for operators and /metrics';

-- Sends dead messages again (discard: deletes them instead): those with
-- this message_id, or all of them when it is null. Returns their number.
CREATE FUNCTION warden._outbox_dead_letters(wanted uuid, discard boolean)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	n bigint;
BEGIN
	IF discard THEN
		DELETE FROM warden.outbox o
		 WHERE o.state = 'dead' AND (wanted IS NULL OR o.message_id = wanted);
	ELSE
		UPDATE warden.outbox o SET state = 'pending', attempts = 0, next_attempt_at = NULL
		 WHERE o.state = 'dead' AND (wanted IS NULL OR o.message_id = wanted);
	END IF;
	GET DIAGNOSTICS n = ROW_COUNT;
	IF n = 0 AND wanted IS NOT NULL THEN
		RAISE EXCEPTION 'no dead outbox message with message_id %', wanted
			USING ERRCODE = 'WO001';
	END IF;
	IF n > 0 THEN
		PERFORM warden._audit(CASE WHEN discard THEN 'outbox_discard' ELSE 'outbox_retry' END, NULL,
			jsonb_strip_nulls(jsonb_build_object('message_id', wanted, 'messages', n)));
		IF NOT discard THEN
			PERFORM warden._outbox_wake();
		END IF;
	END IF;
	RETURN n;
END
$$;

CREATE FUNCTION warden.outbox_retry(message_id uuid)
RETURNS integer
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT warden._outbox_dead_letters(message_id, false)::integer $$;
COMMENT ON FUNCTION warden.outbox_retry(uuid) IS 'sends a dead message again; returns the number of rows revived';

CREATE FUNCTION warden.outbox_retry_all()
RETURNS bigint
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT warden._outbox_dead_letters(NULL, false) $$;
COMMENT ON FUNCTION warden.outbox_retry_all() IS 'sends every dead message again; returns their number';

CREATE FUNCTION warden.outbox_discard(message_id uuid)
RETURNS integer
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT warden._outbox_dead_letters(message_id, true)::integer $$;
COMMENT ON FUNCTION warden.outbox_discard(uuid) IS 'deletes a dead message for good';

REVOKE ALL ON FUNCTION warden.publish(text, text, jsonb, jsonb, uuid), warden._outbox_wake(),
	warden._outbox_dead_letters(uuid, boolean),
	warden.outbox_workers(), warden.outbox_stats(), warden.outbox_retry(uuid),
	warden.outbox_retry_all(), warden.outbox_discard(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION warden.publish(text, text, jsonb, jsonb, uuid)
	TO warden_publisher, warden_admin;
GRANT EXECUTE ON FUNCTION warden.outbox_workers(), warden.outbox_stats(),
	warden.outbox_retry(uuid), warden.outbox_retry_all(), warden.outbox_discard(uuid)
	TO warden_admin;
-- the edge's /metrics reports the backlog
GRANT EXECUTE ON FUNCTION warden.outbox_stats() TO warden_auth;

-- Workers of this database wait for the extension; tell them it is here.
SELECT warden._outbox_wake();

/* ------------------------------------------------------------------------
 * Routes of forward authorization
 *
 * Which permission on which resource an HTTP request needs: the edge's
 * /v1/authz matches the original method and path against this table
 * (core/route.c; patterns like /documents/{id}, resources like
 * document:{id}) and asks warden.check(). A request that matches no route
 * is denied. Changes bump the policy version and NOTIFY warden_policy, so
 * edges reload the table at once.
 * ------------------------------------------------------------------------ */

CREATE TABLE warden.routes (
	id			bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	method		text NOT NULL CHECK (method ~ '^([A-Z]{1,16}|\*)$'),
	pattern		text NOT NULL,
	permission	text NOT NULL,
	resource	text NOT NULL,
	created_at	timestamptz NOT NULL DEFAULT now(),
	CONSTRAINT routes_method_pattern UNIQUE (method, pattern)
);
GRANT SELECT ON warden.routes TO warden_admin, warden_auth;
COMMENT ON TABLE warden.routes IS 'forward authorization: the permission and resource each method and path pattern needs';
CREATE TRIGGER policy_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
	ON warden.routes FOR EACH STATEMENT EXECUTE FUNCTION warden._policy_changed();

-- Raises WA008 with the reason when the pattern or the template is malformed.
CREATE FUNCTION warden._route_check(pattern text, resource text)
RETURNS void
AS 'MODULE_PATHNAME', 'warden_route_check'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION warden.add_route(method text, pattern text, permission text, resource text)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	m text := upper(add_route.method);
	id bigint;
BEGIN
	IF m IS NULL OR m !~ '^([A-Z]{1,16}|\*)$' THEN
		RAISE EXCEPTION 'malformed method "%"', add_route.method USING ERRCODE = 'WA008',
			HINT = 'A method is GET, POST, ... or * for any.';
	END IF;
	PERFORM warden._route_check(add_route.pattern, add_route.resource);
	PERFORM warden._permission(add_route.permission);
	INSERT INTO warden.routes AS r (method, pattern, permission, resource)
	VALUES (m, add_route.pattern, add_route.permission, add_route.resource)
	ON CONFLICT ON CONSTRAINT routes_method_pattern
	DO UPDATE SET permission = excluded.permission, resource = excluded.resource
	RETURNING r.id INTO id;
	PERFORM warden._audit('route_added', NULL,
		jsonb_build_object('method', m, 'pattern', add_route.pattern,
		                   'permission', add_route.permission, 'resource', add_route.resource));
	RETURN id;
END
$$;
COMMENT ON FUNCTION warden.add_route(text, text, text, text) IS 'adds (or replaces) the route of a method and path pattern';

CREATE FUNCTION warden.remove_route(method text, pattern text)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	n integer;
BEGIN
	DELETE FROM warden.routes r
	 WHERE r.method = upper(remove_route.method) AND r.pattern = remove_route.pattern;
	GET DIAGNOSTICS n = ROW_COUNT;
	IF n > 0 THEN
		PERFORM warden._audit('route_removed', NULL,
			jsonb_build_object('method', upper(remove_route.method), 'pattern', remove_route.pattern));
	END IF;
	RETURN n > 0;
END
$$;
COMMENT ON FUNCTION warden.remove_route(text, text) IS 'removes a route; false when there was none';

CREATE FUNCTION warden.match_route(method text, path text,
	OUT permission text, OUT resource text, OUT pattern text)
RETURNS record
AS 'MODULE_PATHNAME', 'warden_match_route'
LANGUAGE C STABLE STRICT SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION warden.match_route(text, text) IS 'the permission and resource a request needs (all null: no route, deny)';

REVOKE ALL ON FUNCTION warden.add_route(text, text, text, text), warden.remove_route(text, text),
	warden.match_route(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION warden.add_route(text, text, text, text), warden.remove_route(text, text),
	warden.match_route(text, text) TO warden_admin;
GRANT EXECUTE ON FUNCTION warden.match_route(text, text) TO warden_auth;

-- The decision of forward authorization for a principal already
-- authenticated (the edge verifies tokens itself): which route does
-- (method, uri) take, and may the principal, limited to scopes when not
-- null, do that? Returns {"status": 200, "subject", "roles", "permission",
-- "resource"} or status 403 (no route, or not allowed). Depends on the
-- policy only, so the edge caches it until the policy version changes.
CREATE FUNCTION warden.decide(principal text, method text, uri text,
							  scopes text[] DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	r record;
BEGIN
	IF principal IS NULL OR method IS NULL OR uri IS NULL THEN
		RAISE EXCEPTION 'principal, method and uri must not be null' USING ERRCODE = '22004';
	END IF;
	SELECT * INTO r FROM warden.match_route(method, uri);
	IF r.permission IS NULL THEN
		RETURN jsonb_build_object('status', 403, 'error', 'no_route', 'subject', principal);
	END IF;
	IF NOT warden.check(principal, r.permission, r.resource, scopes) THEN
		RETURN jsonb_build_object('status', 403, 'error', 'forbidden', 'subject', principal,
			'permission', r.permission, 'resource', r.resource);
	END IF;
	RETURN jsonb_build_object('status', 200, 'subject', principal,
		'roles', to_jsonb(warden.principal_roles(principal)),
		'permission', r.permission, 'resource', r.resource);
END
$$;
COMMENT ON FUNCTION warden.decide(text, text, text, text[]) IS 'forward authorization of an authenticated principal: route and decision';
REVOKE ALL ON FUNCTION warden.decide(text, text, text, text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION warden.decide(text, text, text, text[]) TO warden_admin, warden_auth;

-- Forward authorization of one request in one call: who is the caller (an
-- access token, or with api_key an API key), then warden.decide(). Status
-- 401 when there is no valid credential; a 200 answer adds the tenant.
CREATE FUNCTION warden.authorize(credential text, method text, uri text,
								 api_key boolean DEFAULT false)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	claims jsonb;
	subject text;
	tenant text;
	scopes text[];
	answer jsonb;
BEGIN
	IF credential IS NULL OR credential = '' THEN
		RETURN '{"status": 401}';
	END IF;
	BEGIN
		IF api_key THEN
			claims := warden.verify_api_key(credential);
			subject := claims->>'service_account';
			-- a key without scopes may do what its account may, as the
			-- tokens of warden.client_credentials() for it
			IF jsonb_array_length(claims->'scopes') > 0 THEN
				scopes := ARRAY(SELECT jsonb_array_elements_text(claims->'scopes'));
			END IF;
		ELSE
			claims := warden.verify(credential);
			subject := claims->>'sub';
			scopes := CASE WHEN claims ? 'scope' THEN string_to_array(claims->>'scope', ' ') END;
		END IF;
		tenant := claims->>'tenant';
	EXCEPTION WHEN OTHERS THEN
		IF SQLSTATE LIKE 'WT%' THEN
			RETURN '{"status": 401, "error": "invalid_token"}';
		END IF;
		RAISE;
	END;
	answer := warden.decide(subject, method, uri, scopes);
	IF (answer->>'status')::integer = 200 AND tenant IS NOT NULL THEN
		answer := answer || jsonb_build_object('tenant', tenant);
	END IF;
	RETURN answer;
END
$$;
COMMENT ON FUNCTION warden.authorize(text, text, text, boolean) IS 'forward authorization of one request: credential, route, decision';
REVOKE ALL ON FUNCTION warden.authorize(text, text, text, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION warden.authorize(text, text, text, boolean) TO warden_admin, warden_auth;

/* ------------------------------------------------------------------------
 * What edges need to verify tokens themselves
 *
 * An edge verifies access tokens with core/jwt.c and keeps the state
 * warden.verify() reads (keys that may verify, revoked token ids, disabled
 * principals and revoke_all instants) in memory: warden.edge_state() gives
 * all of it at once, and NOTIFY warden_tokens tells every listening edge of
 * each change as it commits, with the change itself as payload, so one
 * logout costs one small message rather than a reload everywhere:
 *   {"jti": ..., "exp": ...}                     an access token revoked
 *   {"principal": ..., "enabled": ..., "valid_after": ...}
 *   {"keys": true}       signing keys changed: read edge_state() again
 *   {"api_keys": N}      API keys changed: drop those cached before version N
 *   {"reload": true}     a table was truncated: read edge_state() again
 * Policy changes keep their own channel (warden_policy).
 * ------------------------------------------------------------------------ */

-- valid_after as warden.verify() compares it: the first whole second at or
-- after the instant, so a token issued in that second still fails
CREATE FUNCTION warden._valid_after_unix(t timestamptz) RETURNS bigint
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT ceil(extract(epoch FROM t))::bigint $$;

-- Caches shared outside the database (Redis) name this installation, so
-- that a database dropped and created again, a second installation on the
-- same Redis, or a restore onto a new timeline never reads what another
-- wrote under the same version numbers. The row is made by CREATE
-- EXTENSION and deliberately not dumped: a restored copy makes its own.
CREATE TABLE warden.installation (
	one boolean PRIMARY KEY DEFAULT true CHECK (one),
	id uuid NOT NULL DEFAULT gen_random_uuid()
);
INSERT INTO warden.installation DEFAULT VALUES;
REVOKE ALL ON warden.installation FROM PUBLIC;

-- API keys cached outside the database (the edge, Redis) are kept under
-- this version, which every change of keys or of an account moves on.
CREATE SEQUENCE warden.api_key_version;
REVOKE ALL ON SEQUENCE warden.api_key_version FROM PUBLIC;

CREATE FUNCTION warden.edge_state()
RETURNS jsonb
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT jsonb_build_object(
		'namespace', (SELECT replace(id::text, '-', '') FROM warden.installation)
		             || '.' || (pg_control_checkpoint()).timeline_id,
		'policy_version', warden.policy_version(),
		'api_key_version', (SELECT CASE WHEN is_called THEN last_value ELSE 0 END
		                      FROM warden.api_key_version),
		'issuer', current_setting('warden.issuer'),
		'audience', current_setting('warden.audience'),
		'leeway', warden._setting_seconds('warden.token_leeway'),
		'max_token_size', current_setting('warden.max_token_size')::integer,
		-- the keys warden.verify() accepts: the active one, and retiring
		-- ones until the last token they signed has expired
		'keys', (SELECT coalesce(jsonb_agg(jsonb_build_object('jwk', public_jwk,
		                    'verify_until', floor(extract(epoch FROM verify_until))::bigint)), '[]')
		           FROM warden.signing_keys
		          WHERE state = 'active' OR (state = 'retiring' AND verify_until > now())),
		'revoked', (SELECT coalesce(jsonb_agg(jsonb_build_array(jti,
		                       ceil(extract(epoch FROM expires_at))::bigint)), '[]')
		              FROM warden.revoked_tokens
		             WHERE expires_at > now() - make_interval(secs =>
		                   warden._setting_seconds('warden.token_leeway'))),
		'principals', (SELECT coalesce(jsonb_agg(jsonb_build_array(name, enabled,
		                          warden._valid_after_unix(tokens_valid_after))), '[]')
		                 FROM warden.principals
		                WHERE NOT enabled OR tokens_valid_after IS NOT NULL))
$$;
COMMENT ON FUNCTION warden.edge_state() IS 'what an edge needs to verify access tokens itself: keys, revocations, policy version';
REVOKE ALL ON FUNCTION warden.edge_state() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION warden.edge_state() TO warden_admin, warden_auth;

CREATE FUNCTION warden._notify_tokens() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF TG_LEVEL = 'STATEMENT' THEN
		PERFORM pg_notify('warden_tokens', CASE
			WHEN TG_OP = 'TRUNCATE' THEN '{"reload": true}'
			WHEN TG_TABLE_NAME = 'signing_keys' THEN '{"keys": true}'
			ELSE jsonb_build_object('api_keys', nextval('warden.api_key_version'))::text END);
	ELSIF TG_TABLE_NAME = 'revoked_tokens' THEN
		PERFORM pg_notify('warden_tokens', jsonb_build_object('jti', NEW.jti,
			'exp', ceil(extract(epoch FROM NEW.expires_at))::bigint)::text);
	ELSE
		PERFORM pg_notify('warden_tokens', jsonb_build_object('principal', NEW.name,
			'enabled', NEW.enabled, 'valid_after', warden._valid_after_unix(NEW.tokens_valid_after))::text);
		-- an account's API keys follow the account (and its name)
		PERFORM pg_notify('warden_tokens',
			jsonb_build_object('api_keys', nextval('warden.api_key_version'))::text);
	END IF;
	RETURN NULL;
END
$$;

CREATE TRIGGER notify_tokens AFTER INSERT ON warden.revoked_tokens
	FOR EACH ROW EXECUTE FUNCTION warden._notify_tokens();
CREATE TRIGGER notify_tokens AFTER UPDATE OF name, enabled, tokens_valid_after ON warden.principals
	FOR EACH ROW WHEN (OLD.name IS DISTINCT FROM NEW.name
	                   OR OLD.enabled IS DISTINCT FROM NEW.enabled
	                   OR OLD.tokens_valid_after IS DISTINCT FROM NEW.tokens_valid_after)
	EXECUTE FUNCTION warden._notify_tokens();
CREATE TRIGGER notify_tokens AFTER INSERT OR UPDATE OR DELETE ON warden.signing_keys
	FOR EACH STATEMENT EXECUTE FUNCTION warden._notify_tokens();
-- not last_used_at, which verify_api_key() touches once a minute per key
CREATE TRIGGER notify_tokens AFTER UPDATE OF principal_id, prefix, key_hash, scopes, expires_at,
	revoked_at OR DELETE ON warden.api_keys
	FOR EACH STATEMENT EXECUTE FUNCTION warden._notify_tokens();
CREATE TRIGGER notify_tokens_truncate AFTER TRUNCATE
	ON warden.revoked_tokens FOR EACH STATEMENT EXECUTE FUNCTION warden._notify_tokens();
CREATE TRIGGER notify_tokens_truncate AFTER TRUNCATE
	ON warden.principals FOR EACH STATEMENT EXECUTE FUNCTION warden._notify_tokens();
CREATE TRIGGER notify_tokens_truncate AFTER TRUNCATE
	ON warden.signing_keys FOR EACH STATEMENT EXECUTE FUNCTION warden._notify_tokens();
