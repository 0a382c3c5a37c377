--
-- Multi-factor authentication: TOTP enrolment, login with codes, replay,
-- recovery codes, disabling.
--
CREATE EXTENSION warden;
SET warden.password_cost = 4;
--
SET warden.password_cost = 4;	-- the minimum: keep the test fast

\i sql/include/helpers.psql

-- Principals

-- The code an authenticator shows at now() + offset seconds.
CREATE FUNCTION pg_temp.code(who text, offset_s int DEFAULT 0) RETURNS text LANGUAGE sql AS $$
	SELECT warden._totp_code(m.secret, m.principal_id, now() + make_interval(secs => offset_s))
	  FROM warden.mfa_totp m JOIN warden.principals p ON p.id = m.principal_id WHERE p.name = who
$$;

SELECT warden.create_user('carol', 'long enough password') > 0 AS created;
SELECT warden.create_service_account('robot') > 0 AS created;
SELECT pg_temp.try($$SELECT warden.mfa_enroll('nobody')$$);
SELECT pg_temp.try($$SELECT warden.mfa_enroll('robot')$$);
SELECT pg_temp.try($$SELECT warden.mfa_confirm('carol', '123456')$$);

-- Enrolment gives an otpauth:// URI; the secret is stored only sealed
SELECT warden.mfa_enroll('carol')
	~ '^otpauth://totp/warden:carol\?secret=[A-Z2-7]{32}&issuer=warden&algorithm=SHA1&digits=6&period=30$' AS uri;
SELECT octet_length(secret) AS sealed_bytes, confirmed_at IS NULL AS pending FROM warden.mfa_totp;
-- until confirmed, login needs no code
SELECT (warden.login('carol', 'long enough password')).token_type AS before_confirm;
SELECT pg_temp.try($$SELECT warden.mfa_recovery_codes('carol')$$);

-- Confirmation needs a right code
SELECT pg_temp.try($$SELECT warden.mfa_confirm('carol', '12345')$$);
SELECT pg_temp.try($$SELECT warden.mfa_confirm('carol', 'abcdef')$$);
SELECT pg_temp.try(format($$SELECT warden.mfa_confirm('carol', %L)$$, pg_temp.code('carol', -300)));
CREATE TEMP TABLE used AS SELECT pg_temp.code('carol') AS confirm_code, pg_temp.code('carol', 30) AS next_code;
SELECT pg_temp.try(format($$SELECT warden.mfa_confirm('carol', %L)$$, (SELECT confirm_code FROM used)));
SELECT pg_temp.try(format($$SELECT warden.mfa_confirm('carol', %L)$$, pg_temp.code('carol')));
SELECT pg_temp.try($$SELECT warden.mfa_enroll('carol')$$);

-- Now login asks for the code, with its own SQLSTATE
SELECT pg_temp.try($$SELECT warden.login('carol', 'long enough password')$$);
SELECT pg_temp.try($$SELECT warden.login('carol', 'long enough password', '000000')$$);
SELECT pg_temp.try($$SELECT warden.login('carol', 'wrong password', '000000')$$);
-- the code confirmation used is spent; the next step's (clock drift) works once
SELECT pg_temp.try(format($$SELECT warden.login('carol', 'long enough password', %L)$$, (SELECT confirm_code FROM used)));
SELECT warden.verify((warden.login('carol', 'long enough password', (SELECT next_code FROM used))).access_token)->'amr' AS amr;
SELECT pg_temp.try(format($$SELECT warden.login('carol', 'long enough password', %L)$$, (SELECT next_code FROM used)));
-- too far from now
SELECT pg_temp.try(format($$SELECT warden.login('carol', 'long enough password', %L)$$, pg_temp.code('carol', 120)));
SELECT warden.unlock('carol');

-- Recovery codes: ten, shown once, each usable once, typed loosely
CREATE TEMP TABLE codes AS SELECT c FROM warden.mfa_recovery_codes('carol') c;
SELECT count(*) AS codes, bool_and(c ~ '^[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}$') AS format,
       count(DISTINCT c) AS distinct_codes FROM codes;
SELECT count(*) AS stored, bool_and(octet_length(code_hash) = 32) AS digests FROM warden.recovery_codes;
SELECT warden.verify((warden.login('carol', 'long enough password', (SELECT min(c) FROM codes))).access_token)->'amr' AS amr;
SELECT pg_temp.try(format($$SELECT warden.login('carol', 'long enough password', %L)$$, (SELECT min(c) FROM codes)));
SELECT (warden.login('carol', 'long enough password', upper(replace((SELECT max(c) FROM codes), '-', ' ')))).token_type AS loose;
-- new codes replace the old ones
SELECT count(*) FROM warden.mfa_recovery_codes('carol');
SELECT pg_temp.try(format($$SELECT warden.login('carol', 'long enough password', %L)$$,
	(SELECT c FROM codes ORDER BY c OFFSET 1 LIMIT 1)));
SELECT warden.unlock('carol');

-- Wrong codes count towards the lockout and are audited as such
SELECT pg_temp.audit_count('login_failed', 'carol', 3) >= 3 AS audited;
SELECT DISTINCT detail->>'reason' AS reason FROM warden.audit_log
 WHERE event = 'login_failed' AND principal = 'carol' ORDER BY 1;

-- Disabling: login needs no code again
SELECT pg_temp.try($$SELECT warden.mfa_disable('carol')$$);
SELECT (warden.login('carol', 'long enough password')).token_type AS after_disable;
SELECT pg_temp.try($$SELECT warden.mfa_disable('carol')$$);
SELECT count(*) AS codes_left FROM warden.recovery_codes;

SELECT array_agg(event ORDER BY id) AS mfa_events FROM warden.audit_log
 WHERE event LIKE 'mfa%';
SELECT count(*) AS secrets_in_audit FROM warden.audit_log
 WHERE detail::text ~* '(otpauth|secret|[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4})';

SELECT pg_temp.settle() AS settled;
DROP EXTENSION warden;
