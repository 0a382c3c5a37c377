--
-- Encryption at rest, pseudonyms, and the GDPR functions: export, erasure,
-- audit retention.
--
CREATE EXTENSION warden;
SET warden.password_cost = 4;
\i sql/include/helpers.psql

-- encrypt/decrypt: AES-256-GCM bound to a context, naming its key
SELECT warden.encrypt('card 4242 4242 4242 4242', 'payments') AS c \gset
SELECT convert_from(warden.decrypt(:'c', 'payments'), 'UTF8') AS plain;
SELECT octet_length(:'c'::bytea) - octet_length('card 4242 4242 4242 4242'::bytea) AS overhead,
       get_byte(:'c'::bytea, 0) AS format_version;
SELECT position('4242'::bytea IN :'c'::bytea) AS clear_text_inside;
SELECT warden.encrypt('same', 'x') <> warden.encrypt('same', 'x') AS fresh_nonce_each_time;
SELECT pg_temp.try(format($$SELECT warden.decrypt(%L, 'another context')$$, :'c'));
SELECT pg_temp.try(format($$SELECT warden.decrypt(%L)$$, overlay(:'c'::bytea PLACING '\x00'::bytea FROM 20)));
SELECT pg_temp.try($$SELECT warden.decrypt('\x0102')$$);
SELECT convert_from(warden.decrypt(warden.reencrypt(:'c', 'payments'), 'payments'), 'UTF8') AS reencrypted;
SELECT warden.reencrypt(:'c', 'payments') = :'c'::bytea AS unchanged_under_current_key;
SELECT warden.rotate_master_key() AS resealed_nothing_new;

-- pseudonyms: stable, keyed, not the value
SELECT warden.pseudonym('erin@example.com') = warden.pseudonym('erin@example.com') AS stable,
       warden.pseudonym('erin@example.com') <> warden.pseudonym('erin@example.org') AS distinct_values,
       warden.pseudonym('erin@example.com') ~ '^anon-[0-9a-f]{20}$' AS format;
SELECT count(*) AS keyring_sealed FROM warden.keyring WHERE get_byte(secret, 0) = 1;

-- Someone with everything: password, MFA, a group, a grant, sessions
SELECT warden.create_user('erin', 'long enough password', 'acme') > 0;
SELECT warden.create_group('staff') > 0, warden.create_role('reader') > 0;
SELECT warden.add_member('staff', 'erin'), warden.grant('erin', 'reader', 'tenant:acme');
SELECT warden.mfa_enroll('erin') IS NOT NULL AS enrolled;
CREATE TEMP TABLE s AS SELECT * FROM warden.login('erin', 'long enough password');

-- Right of access: everything, and no secret
SELECT jsonb_object_keys(warden.export_principal('erin')) AS part ORDER BY 1;
SELECT e->'principal'->>'name' AS name, e->'groups' AS groups, e->'grants'->0->>'role' AS role,
       jsonb_array_length(e->'sessions') AS sessions, e->'mfa'->>'confirmed_at' IS NULL AS mfa_pending,
       jsonb_array_length(e->'audit') > 0 AS audited
  FROM warden.export_principal('erin') e;
SELECT warden.export_principal('erin')::text ~ '(\$2a\$|wrt_|eyJ|otpauth|secret|hash)' AS secrets_exported;
SELECT pg_temp.try($$SELECT warden.export_principal('nobody')$$);

-- Right to erasure
SELECT warden.pseudonym('erin') AS alias \gset
SELECT warden.erase_principal('erin') = :'alias' AS returns_pseudonym;
SELECT count(*) AS rows_named_erin FROM warden.principals WHERE name = 'erin';
SELECT enabled, tenant FROM warden.principals WHERE name = :'alias';
SELECT (SELECT count(*) FROM warden.passwords) AS passwords, (SELECT count(*) FROM warden.mfa_totp) AS mfa,
       (SELECT count(*) FROM warden.bindings) AS bindings, (SELECT count(*) FROM warden.group_members) AS memberships,
       (SELECT count(*) FROM warden.refresh_tokens WHERE revoked_at IS NULL) AS live_sessions;
SELECT pg_temp.try($$SELECT warden.verify((SELECT access_token FROM s))$$);
SELECT pg_temp.try($$SELECT warden.refresh((SELECT refresh_token FROM s))$$);
SELECT pg_temp.try($$SELECT warden.login('erin', 'long enough password')$$);
-- the audit log keeps its rows, under the pseudonym
SELECT count(*) AS audit_rows_naming_erin FROM warden.audit_log WHERE principal = 'erin';
SELECT count(*) > 3 AS audit_rows_kept FROM warden.audit_log WHERE principal = :'alias';
SELECT event FROM warden.audit_log WHERE principal = :'alias' ORDER BY id DESC LIMIT 1;
SELECT pg_temp.try($$SELECT warden.erase_principal('erin')$$);

-- Retention: purge deletes audit rows older than warden.audit_retention
UPDATE warden.audit_log SET at = now() - interval '400 days' WHERE event = 'user_created';
SELECT warden.purge() >= 1 AS purged;
SELECT count(*) AS old_rows_left FROM warden.audit_log WHERE at < now() - interval '365 days';
SET warden.audit_retention = '1h';
SHOW warden.audit_retention;
SELECT pg_temp.try($$SET warden.audit_retention = '1s'$$);
SELECT pg_temp.try($$SELECT warden.purge(0)$$);

SELECT pg_temp.settle() AS settled;
DROP EXTENSION warden;
