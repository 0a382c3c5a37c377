--
-- Authorization: roles, inheritance, wildcards, resource hierarchy, deny
-- precedence, groups, tenants, expiring grants, API-key scope narrowing,
-- invalidation after every kind of change, and Row Level Security.
--
CREATE EXTENSION warden;
SET warden.password_cost = 4;

\i sql/include/helpers.psql

-- Principals, roles and a resource tree: document:42 in project:7 in tenant:acme
SELECT warden.create_user('alice', 'long enough password', 'acme') > 0,
       warden.create_user('bob', 'long enough password', 'acme') > 0,
       warden.create_user('mallory', 'long enough password', 'globex') > 0,
       warden.create_service_account('indexer', 'acme') > 0,
       warden.create_group('auditors', 'acme') > 0;
SELECT warden.create_role('reader') > 0, warden.create_role('editor', '{reader}') > 0,
       warden.create_role('admin', '{editor}') > 0, warden.create_role('superuser') > 0;
SELECT warden.add_permission('reader', 'document:read'),
       warden.add_permission('editor', 'document:write'),
       warden.add_permission('admin', 'document:*'),
       warden.add_permission('superuser', '*:*');
SELECT warden.set_parent('document:42', 'project:7'), warden.set_parent('document:43', 'project:7'),
       warden.set_parent('project:7', 'tenant:acme'), warden.set_parent('document:99', 'tenant:globex');

-- Nothing is allowed before a grant
SELECT warden.check('alice', 'document:read', 'document:42') AS before_grant;

-- A grant on the tenant reaches everything below it, with inherited permissions
SELECT warden.grant('alice', 'editor', 'tenant:acme');
SELECT r, warden.check('alice', 'document:read', r) AS can_read, warden.check('alice', 'document:write', r) AS can_write,
       warden.check('alice', 'document:delete', r) AS can_delete
  FROM unnest(ARRAY['document:42', 'project:7', 'tenant:acme', 'document:99', 'document:1000']) r;
SELECT warden.principal_roles('alice');

-- A grant on one resource reaches only it (and what lies in it)
SELECT warden.grant('bob', 'reader', 'document:42');
SELECT warden.check('bob', 'document:read', 'document:42') AS own, warden.check('bob', 'document:read', 'document:43') AS sibling,
       warden.check('bob', 'document:write', 'document:42') AS other_action;

-- Wildcards: document:* and *:*
SELECT warden.grant('bob', 'admin', 'project:7');
SELECT warden.check('bob', 'document:delete', 'document:43') AS type_wildcard,
       warden.check('bob', 'invoice:read', 'document:43') AS other_type;
SELECT warden.grant('indexer', 'superuser');
SELECT warden.check('indexer', 'anything:at_all', 'whatever:1') AS global_wildcard;

-- An explicit deny beats any allow, at any level, also by wildcard
SELECT warden.deny('alice', 'document:write', 'document:42');
SELECT warden.check('alice', 'document:write', 'document:42') AS denied_here,
       warden.check('alice', 'document:write', 'document:43') AS allowed_beside;
SELECT warden.deny('indexer', '*:delete', 'tenant:acme');
SELECT warden.check('indexer', 'document:delete', 'document:42') AS wildcard_deny,
       warden.check('indexer', 'document:delete', 'document:99') AS other_tenant;
SELECT warden.remove_deny('alice', 'document:write', 'document:42');
SELECT warden.check('alice', 'document:write', 'document:42') AS deny_removed;

-- Groups: members get the group's roles; a deny on the group applies too
SELECT warden.add_member('auditors', 'mallory');
SELECT warden.check('mallory', 'document:read', 'document:42') AS before_group_grant;
SELECT warden.grant('auditors', 'reader', 'tenant:acme');
SELECT warden.check('mallory', 'document:read', 'document:42') AS via_group,
       warden.check('auditors', 'document:read', 'document:42') AS the_group_itself;
SELECT warden.deny('auditors', 'document:read', 'project:7');
SELECT warden.check('mallory', 'document:read', 'document:42') AS group_deny;
SELECT warden.remove_member('auditors', 'mallory');
SELECT warden.check('mallory', 'document:read', 'tenant:acme') AS after_removal;

-- Tenants are scopes like any other: mallory of globex gets nothing in acme
SELECT warden.grant('mallory', 'reader', 'tenant:globex');
SELECT warden.check('mallory', 'document:read', 'document:99') AS own_tenant,
       warden.check('mallory', 'document:read', 'document:43') AS other_tenant;

-- Expiring grants
SELECT warden.grant('mallory', 'reader', 'document:43', now() + interval '1 hour');
SELECT warden.check('mallory', 'document:read', 'document:43') AS before_expiry;
UPDATE warden.bindings SET expires_at = now() - interval '1 second'
 WHERE scope = 'document:43' AND principal_id = (SELECT id FROM warden.principals WHERE name = 'mallory');
SELECT warden.check('mallory', 'document:read', 'document:43') AS after_expiry;
SELECT warden.principal_roles('mallory') AS expired_role_gone;

-- Every kind of change flips a cached decision at once, in this session
SELECT warden.check('bob', 'document:read', 'document:42') AS cached;
SELECT warden.revoke_grant('bob', 'reader', 'document:42');
SELECT warden.check('bob', 'document:read', 'document:42') AS revoke_grant_seen;	-- admin on project:7 still reads
SELECT warden.revoke_grant('bob', 'admin', 'project:7');
SELECT warden.check('bob', 'document:read', 'document:42') AS all_revoked;
SELECT warden.check('alice', 'document:read', 'document:42') AS cached_again;
SELECT warden.remove_permission('reader', 'document:read');
SELECT warden.check('alice', 'document:read', 'document:42') AS permission_removal_seen;
SELECT warden.add_permission('reader', 'document:read');
SELECT warden.check('alice', 'document:read', 'document:42') AS permission_add_seen;
SELECT warden.set_parent('project:7', NULL);
SELECT warden.check('alice', 'document:read', 'document:42') AS parent_change_seen;
SELECT warden.set_parent('project:7', 'tenant:acme');
SELECT warden.set_enabled('alice', false);
SELECT warden.check('alice', 'document:read', 'document:42') AS disable_seen;
SELECT warden.set_enabled('alice', true);
SELECT warden.drop_role('editor');
SELECT warden.check('alice', 'document:read', 'document:42') AS drop_role_seen;
SELECT warden.create_role('editor', '{reader}') > 0;
SELECT warden.grant('alice', 'editor', 'tenant:acme');
-- ...and a change in an open transaction is seen later in it, and undone by rollback
BEGIN;
SELECT warden.grant('bob', 'reader', 'document:42');
SELECT warden.check('bob', 'document:read', 'document:42') AS seen_in_transaction;
ROLLBACK;
SELECT warden.check('bob', 'document:read', 'document:42') AS rolled_back;

-- The policy version moves with every change
SELECT warden.policy_version() AS v1 \gset
SELECT warden.grant('bob', 'reader', 'document:43');
SELECT warden.policy_version() > :v1 AS version_bumped;

-- explain_check says why
SELECT warden.explain_check('alice', 'document:read', 'document:42');
SELECT warden.explain_check('alice', 'document:delete', 'document:42');
SELECT warden.explain_check('indexer', 'document:delete', 'document:42');
SELECT warden.explain_check('nobody', 'document:read', 'document:42') -> 'reason' AS unknown;

-- check_all: many pairs at once
SELECT * FROM warden.check_all('alice', ARRAY[['document:read', 'document:42'],
                                              ['document:delete', 'document:42'],
                                              ['document:write', 'document:43']]);

-- API-key scopes narrow what a service account's roles grant
SELECT warden.check('indexer', 'document:read', 'document:42', '{document:read}') AS in_scope,
       warden.check('indexer', 'invoice:read', 'invoice:1', '{document:read}') AS out_of_scope,
       warden.check('indexer', 'invoice:read', 'invoice:1', '{invoice:*}') AS wildcard_scope,
       warden.check('bob', 'invoice:read', 'invoice:1', '{*:*}') AS scopes_never_add;
SELECT warden.create_api_key('indexer', '{document:read}') AS key \gset
CREATE TEMP TABLE cc AS SELECT warden.verify(access_token) AS claims FROM warden.client_credentials(:'key');
SELECT claims->'roles' AS roles, claims->>'scope' AS scope FROM cc;
BEGIN;
SELECT set_config('warden.claims', (SELECT claims::text FROM cc), true) IS NOT NULL AS claims_set;
SELECT warden.check('indexer', 'document:read', 'document:42') AS claims_in_scope,
       warden.check('indexer', 'invoice:read', 'invoice:1') AS claims_out_of_scope,
       warden.check('alice', 'document:read', 'document:42') AS other_principal_unaffected;
COMMIT;
SELECT warden.check('indexer', 'invoice:read', 'invoice:1') AS without_claims;

-- Tokens carry the principal's roles
SELECT warden.verify((warden.login('alice', 'long enough password')).access_token)->'roles' AS alice_roles;

-- permitted: list-objects over the resources warden knows, consistent
-- with check, usable in joins, pageable
SELECT warden.set_parent('document:' || g, 'project:8') FROM generate_series(100, 104) g;
SELECT warden.set_parent('project:8', 'tenant:acme');
SELECT warden.deny('alice', 'document:read', 'document:102');
SELECT array_agg(r) AS alice_reads FROM warden.permitted('alice', 'document:read', 'document') r;
SELECT bool_and(warden.check('alice', 'document:read', r)) AS all_allowed
  FROM warden.permitted('alice', 'document:read', 'document') r;
SELECT count(*) AS allowed_but_missing
  FROM warden.resource_parents rp
 WHERE rp.child LIKE 'document:%' AND warden.check('alice', 'document:read', rp.child)
   AND rp.child NOT IN (SELECT warden.permitted('alice', 'document:read', 'document'));
SELECT array_agg(r) AS page_2 FROM warden.permitted('alice', 'document:read', 'document', 'document:101', 2) r;
SELECT array_agg(r) AS global_grant FROM warden.permitted('indexer', 'document:delete', 'document') r;
SELECT array_agg(r) AS projects FROM warden.permitted('alice', 'document:read', 'project') r;
SELECT count(*) AS nobody FROM warden.permitted('nobody', 'document:read', 'document');
CREATE TEMP TABLE docs (id int, title text);
INSERT INTO docs VALUES (42, 'plans'), (100, 'a'), (102, 'denied'), (500, 'unknown to warden');
SELECT d.* FROM docs d
  JOIN warden.permitted('alice', 'document:read', 'document') r ON r = 'document:' || d.id
 WHERE d.title <> 'a' ORDER BY d.id;
SELECT pg_temp.try($$SELECT warden.permitted('alice', 'document:read', 'bad type')$$);
SELECT pg_temp.try($$SELECT warden.permitted('alice', 'document:read', 'document', NULL, 0)$$);
SELECT pg_temp.try($$SELECT warden.permitted('alice', 'bad', 'document')$$);

-- Cycles are refused
SELECT pg_temp.try($$SELECT warden.add_inherits('reader', 'admin')$$);
SELECT pg_temp.try($$SELECT warden.add_inherits('reader', 'reader')$$);
SELECT pg_temp.try($$SELECT warden.set_parent('tenant:acme', 'document:42')$$);
SELECT pg_temp.try($$SELECT warden.set_parent('document:42', 'document:42')$$);

-- Every error path has its SQLSTATE
SELECT pg_temp.try($$SELECT warden.create_role('reader')$$);
SELECT pg_temp.try($$SELECT warden.create_role('bad name')$$);
SELECT pg_temp.try($$SELECT warden.create_role('x', '{nosuchrole}')$$);
SELECT pg_temp.try($$SELECT warden.add_permission('nosuchrole', 'document:read')$$);
SELECT pg_temp.try($$SELECT warden.add_permission('reader', 'document')$$);
SELECT pg_temp.try($$SELECT warden.add_permission('reader', 'doc ument:read')$$);
SELECT pg_temp.try($$SELECT warden.add_permission('reader', 'a:b:c')$$);
SELECT pg_temp.try($$SELECT warden.grant('nobody', 'reader')$$);
SELECT pg_temp.try($$SELECT warden.grant('alice', 'nosuchrole')$$);
SELECT pg_temp.try($$SELECT warden.grant('alice', 'reader', 'no-colon')$$);
SELECT pg_temp.try($$SELECT warden.grant('alice', 'reader', '*', now() - interval '1 day')$$);
SELECT pg_temp.try($$SELECT warden.deny('alice', 'bad', '*')$$);
SELECT pg_temp.try($$SELECT warden.add_member('alice', 'bob')$$);
SELECT pg_temp.try($$SELECT warden.add_member('auditors', 'auditors')$$);
SELECT pg_temp.try($$SELECT warden.set_parent('bad', 'tenant:acme')$$);
SELECT pg_temp.try($$SELECT warden.check('alice', 'bad', 'document:42')$$);
SELECT pg_temp.try($$SELECT warden.check('alice', 'document:read', 'bad')$$);
SELECT warden.check(NULL, 'document:read', 'document:42') AS null_principal,
       warden.check('nobody', 'document:read', 'document:42') AS unknown_principal;

-- Every change is audited
SELECT event, count(*) FROM warden.audit_log
 WHERE event IN ('role_created', 'permission_added', 'role_granted', 'role_revoked', 'permission_denied',
                 'deny_removed', 'member_added', 'member_removed', 'parent_set', 'role_dropped',
                 'role_inherits_added', 'permission_removed', 'group_created')
 GROUP BY event ORDER BY event;

-- Only warden_admin may change the policy; everyone may check
CREATE ROLE regress_warden_app;
CREATE ROLE regress_warden_admin IN ROLE warden_admin;
SET ROLE regress_warden_app;
SELECT pg_temp.try($$SELECT warden.grant('bob', 'reader')$$);
SELECT pg_temp.try($$SELECT * FROM warden.bindings$$);
SELECT warden.check('alice', 'document:read', 'document:42') AS app_can_check;
SELECT pg_temp.try($$SET warden.principal = 'alice'$$);
RESET ROLE;
SET ROLE regress_warden_admin;
SELECT warden.grant('bob', 'reader', 'document:1') AS admin_can_grant;
RESET ROLE;

-- Row Level Security through warden.check and warden.current_principal
CREATE TABLE documents (id int PRIMARY KEY, title text);
INSERT INTO documents VALUES (42, 'plans'), (43, 'budget'), (99, 'globex secrets');
ALTER TABLE documents ENABLE ROW LEVEL SECURITY;
CREATE POLICY documents_read ON documents FOR SELECT
	USING (warden.check(warden.current_principal(), 'document:read', 'document:' || id));
GRANT SELECT ON documents TO regress_warden_app;
SET ROLE regress_warden_app;
SELECT * FROM documents ORDER BY id;			-- no principal: nothing
RESET ROLE;
BEGIN;
SET LOCAL warden.principal = 'alice';
SET LOCAL ROLE regress_warden_app;
SELECT warden.current_principal();
SELECT * FROM documents ORDER BY id;			-- alice reads acme's documents
SELECT pg_temp.try($$SET LOCAL warden.principal = 'mallory'$$);	-- the app cannot switch principal
COMMIT;
BEGIN;
SET LOCAL warden.principal = 'mallory';
SET LOCAL ROLE regress_warden_app;
SELECT * FROM documents ORDER BY id;			-- mallory reads globex's
COMMIT;
SELECT warden.current_principal() IS NULL AS reset_after_commit;

DROP TABLE documents;
DROP ROLE regress_warden_app, regress_warden_admin;
SELECT pg_temp.settle() AS settled;
DROP EXTENSION warden;
