--
-- PII masking: mask(), mask_jsonb(), find_pii(), column masking, and the
-- server log (emit_log_hook) with log_statement = 'all'.
--
CREATE EXTENSION warden;
\i sql/include/helpers.psql

-- mask(): every type, in the default style (full)
SELECT warden.mask('mail alice@example.com, call +1 (555) 123-4567, card 4242 4242 4242 4242, '
                   'iban DE89 3704 0044 0532 0130 00, from 192.0.2.44 and 2001:db8::7, ssn 123-45-6789');
SELECT warden.mask('Authorization: Bearer abcdef0123456789abcdef0123456789 password=hunter2 "api_key": "k-123"');
SELECT warden.mask('order 12345678, at 2026-11-25T17:54:40Z, version 1.2.3.4.5, '
                   'id 4f1e7a3c-9b2d-4e8f-a1c3-5d6e7f809a1b, card 4242 4242 4242 4243') AS near_misses;
-- per-type styles
SET warden.mask_styles = 'email:partial, card:partial, ipv4:off';
SELECT warden.mask('alice@example.com paid with 4242-4242-4242-4242 from 192.0.2.44');
SET warden.mask_styles = 'email:hash';
SELECT warden.mask('alice@example.com') = warden.mask('alice@example.com') AS hash_stable,
       warden.mask('alice@example.com') ~ '^\[EMAIL:[0-9a-f]{12}\]$' AS hash_format,
       warden.mask('alice@example.com') <> warden.mask('bob@example.com') AS hash_distinct;
RESET warden.mask_styles;
SELECT pg_temp.try($$SET warden.mask_styles = 'email:sometimes'$$);
SELECT pg_temp.try($$SET warden.mask_styles = 'shoe_size:full'$$);
SELECT pg_temp.try($$SET warden.mask_style = 'loud'$$);

-- mask_jsonb(): strings scanned, values under keys naming PII masked whole
SELECT warden.mask_jsonb('{"user": {"email": "Bob@Example.com", "Phone-Number": "+44 20 7946 0958",
  "note": "card 4242 4242 4242 4242", "password": "hunter2", "age": 42},
  "tags": ["x", "alice@example.com"], "api_key": 12345, "empty": null}');
SELECT warden.mask_jsonb('"just a string with alice@example.com"');
SELECT warden.mask_jsonb('[1, 2.5, true, null]');

-- find_pii(): character positions, as substr() counts
SELECT * FROM warden.find_pii('é ü alice@example.com, 4242-4242-4242-4242');
SELECT substr('é ü alice@example.com', start, length) FROM warden.find_pii('é ü alice@example.com');
SELECT count(*) AS in_binary_junk FROM warden.find_pii(convert_from('\x48656c6c6f'::bytea, 'UTF8') || repeat('x', 100000));

-- Column masking: a view for callers without pii:read
CREATE TABLE customers (id int PRIMARY KEY, email text, card text, note text);
INSERT INTO customers VALUES (1, 'carol@example.com', '4242 4242 4242 4242', 'ssn 123-45-6789, likes cats'),
                             (2, 'dave@example.org', 'n/a', NULL);
SELECT warden.mask_column('customers', 'email', 'partial');
SELECT warden.mask_column('customers', 'card', 'full');
SELECT warden.mask_column('customers', 'note', 'scan');
SELECT pg_temp.try($$SELECT warden.mask_column('customers', 'nope', 'full')$$);
SELECT pg_temp.try($$SELECT warden.mask_column('customers', 'email', 'sometimes')$$);
CREATE ROLE regress_pii_app;
GRANT SELECT ON customers_masked TO regress_pii_app;
GRANT SELECT ON customers TO regress_pii_app;
SET ROLE regress_pii_app;
SELECT * FROM customers_masked ORDER BY id;
RESET ROLE;
-- a warden principal holding pii:read on the table sees the data
SELECT warden.create_user('auditor', 'long enough password') > 0, warden.create_role('pii_reader') > 0;
SELECT warden.add_permission('pii_reader', 'pii:read'), warden.grant('auditor', 'pii_reader', 'table:public.customers');
CREATE ROLE regress_pii_edge IN ROLE warden_auth;
GRANT regress_pii_app TO regress_pii_edge;
SET ROLE regress_pii_edge;
BEGIN;
SET LOCAL warden.principal = 'auditor';
SET LOCAL ROLE regress_pii_app;
SELECT id, email, card FROM customers_masked ORDER BY id;
COMMIT;
RESET ROLE;
-- and so does a member of warden_pii_reader
GRANT warden_pii_reader TO regress_pii_app;
SET ROLE regress_pii_app;
SELECT id, email FROM customers_masked ORDER BY id;
RESET ROLE;
SELECT warden.mask_column('customers', 'email', 'off');
SELECT warden.mask_column('customers', 'card', 'off');
SELECT warden.mask_column('customers', 'note', 'off');
SELECT to_regclass('customers_masked') IS NULL AS view_dropped_with_last_rule;
DROP TABLE customers;
DROP ROLE regress_pii_app, regress_pii_edge;

-- The server log: statements, errors and messages carrying PII and
-- credentials, with log_statement = 'all', reach the log masked.
SELECT gen_random_uuid() AS run \gset
\set endmark :run '-end'
SET log_statement = 'all';
SELECT :'run' IS NOT NULL AS marker;
SELECT 'alice@example.com' AS email, '4242 4242 4242 4242' AS card, '192.0.2.44' AS ip;
SELECT pg_temp.try($$SELECT warden.login('nobody-here', 'Sup3r-Secret-Pw')$$);
SELECT pg_temp.try($$SELECT warden.set_password('nobody', E'An0ther\'Secret')$$);
DO $$ BEGIN RAISE LOG 'user carol@example.net paid with 5555 5555 5555 4444'; END $$;
SELECT 1 / 0 AS boom FROM (VALUES ('bob@example.org')) v;
SELECT :'endmark' IS NOT NULL AS marker;
RESET log_statement;
CREATE FUNCTION pg_temp.log_since(marker text, endmark text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	log text;
BEGIN
	FOR i IN 1..100 LOOP
		log := pg_read_file(pg_current_logfile());
		EXIT WHEN position(endmark IN log) > 0;
		PERFORM pg_sleep(0.1);
	END LOOP;
	RETURN substr(log, position(marker IN log));
END
$$;
CREATE TEMP TABLE logged AS SELECT pg_temp.log_since(:'run', :'endmark') AS log;
SELECT position(:'endmark' IN log) > 0 AS log_read FROM logged;
SELECT s AS leaked FROM logged, unnest(ARRAY['alice@example.com', '4242 4242 4242 4242', '192.0.2.44',
	'Sup3r-Secret-Pw', 'An0ther', 'carol@example.net', '5555 5555 5555 4444', 'bob@example.org']) s
 WHERE position(s IN log) > 0;
SELECT m AS masked_form_present FROM logged, unnest(ARRAY['[EMAIL]', '[CARD]', '[IPV4]', 'division by zero',
	'warden.login(''***********'', ''***************'')']) m
 WHERE position(m IN log) > 0 ORDER BY 1;
-- masking can be turned off (for a superuser's session)
SET warden.mask_logs = off;
SHOW warden.mask_logs;
RESET warden.mask_logs;

SELECT pg_temp.settle() AS settled;
DROP EXTENSION warden;
