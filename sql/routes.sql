--
-- Routes of forward authorization: add_route/remove_route, validation,
-- matching (precedence, method wildcard, query strings, traversal and
-- widening attempts), NOTIFY on change.
--
CREATE EXTENSION warden;
\i sql/include/helpers.psql

SELECT warden.add_route('GET', '/documents/{id}', 'document:read', 'document:{id}') > 0 AS added;
SELECT warden.add_route('put', '/documents/{id}', 'document:write', 'document:{id}') > 0 AS lower_case_method;
SELECT warden.add_route('GET', '/documents/archive', 'archive:read', 'archive:all') > 0 AS literal;
SELECT warden.add_route('*', '/tenants/{t}/documents/{id}', 'document:read', 'document:{t}.{id}') > 0 AS any_method;
SELECT warden.add_route('DELETE', '/tenants/{t}/documents/{id}', 'document:delete', 'document:{t}.{id}') > 0 AS specific;
SELECT method, pattern, permission, resource FROM warden.routes ORDER BY id;

-- replacing a route keeps one row
SELECT warden.add_route('GET', '/documents/{id}', 'document:view', 'document:{id}') > 0 AS replaced;
SELECT count(*) AS get_routes, max(permission) AS permission FROM warden.routes WHERE method = 'GET' AND pattern = '/documents/{id}';

-- malformed routes: WA008 (and the permission's own WA002)
SELECT pg_temp.try($$SELECT warden.add_route('GET', 'documents/{id}', 'document:read', 'document:{id}')$$);
SELECT pg_temp.try($$SELECT warden.add_route('GET', '/documents/{id}', 'document:read', 'document:{other}')$$);
SELECT pg_temp.try($$SELECT warden.add_route('GET', '/documents/../x', 'document:read', 'document:x')$$);
SELECT pg_temp.try($$SELECT warden.add_route('GET', '/documents/{id}/{id}', 'document:read', 'document:{id}')$$);
SELECT pg_temp.try($$SELECT warden.add_route('G ET', '/documents/{id}', 'document:read', 'document:{id}')$$);
SELECT pg_temp.try($$SELECT warden.add_route('GET', '/documents/{id}', 'read', 'document:{id}')$$);

-- matching
SELECT * FROM warden.match_route('GET', '/documents/42');
SELECT * FROM warden.match_route('get', '/documents/42?include=body');
SELECT * FROM warden.match_route('GET', '/documents/archive');
SELECT * FROM warden.match_route('PUT', '/documents/7');
SELECT * FROM warden.match_route('POST', '/documents/7');
SELECT * FROM warden.match_route('GET', '/tenants/acme/documents/9');
SELECT * FROM warden.match_route('DELETE', '/tenants/acme/documents/9');
SELECT * FROM warden.match_route('GET', '/documents/42/');
SELECT * FROM warden.match_route('GET', '/documents/%2E%2E');
SELECT * FROM warden.match_route('GET', '/documents/a%2Fb');
SELECT * FROM warden.match_route('GET', '/documents/*');
SELECT * FROM warden.match_route('GET', '/documents/a:b');
SELECT * FROM warden.match_route('GET', '/doc%75ments/42');

-- changes bump the policy version (and NOTIFY warden_policy with it)
SELECT warden.policy_version() AS v0 \gset
SELECT warden.remove_route('get', '/documents/archive') AS removed;
SELECT warden.policy_version() > :v0 AS version_bumped;
SELECT warden.remove_route('GET', '/documents/archive') AS removed_again;
SELECT * FROM warden.match_route('GET', '/documents/archive');
SELECT event, detail->>'pattern' AS pattern FROM warden.audit_log WHERE event LIKE 'route%' ORDER BY id;

-- decide: the decision for a principal the edge has authenticated
SET warden.password_cost = 4;
SELECT warden.create_user('dora', 'long enough password', 'acme') IS NOT NULL AS created;
SELECT warden.create_service_account('crawler') IS NOT NULL AS created;
SELECT warden.create_role('doc_reader') IS NOT NULL AS created;
SELECT warden.add_permission('doc_reader', 'document:view');
SELECT warden.grant('dora', 'doc_reader');
SELECT warden.grant('crawler', 'doc_reader');
SELECT warden.decide('dora', 'GET', '/documents/42');
SELECT warden.decide('dora', 'GET', '/documents/42?include=body');
SELECT warden.decide('dora', 'DELETE', '/tenants/acme/documents/9');
SELECT warden.decide('dora', 'GET', '/nowhere');
SELECT warden.decide('dora', 'GET', '/documents/42', '{invoice:read}');
SELECT warden.decide('dora', 'GET', '/documents/42', '{document:*}');
SELECT warden.decide('dora', 'GET', '/documents/42', '{}');
SELECT pg_temp.try($$SELECT warden.decide(NULL, 'GET', '/documents/42')$$);
-- authorize() gives the same answer, with the credential checked and the tenant
SELECT (warden.authorize((warden.login('dora', 'long enough password')).access_token,
                         'GET', '/documents/42')) - 'roles' AS authorized;
-- an API key without scopes may do what its account may
SELECT warden.authorize(warden.create_api_key('crawler'), 'GET', '/documents/42', true)->>'status' AS unscoped_key;
SELECT warden.authorize(warden.create_api_key('crawler', '{invoice:read}'), 'GET', '/documents/42', true)->>'status' AS narrow_key;

-- edge_state: what edges need to verify tokens themselves
SELECT jsonb_typeof(s->'keys') AS keys, jsonb_array_length(s->'keys') AS active_keys,
       s->'keys'->0->'jwk'->>'kty' AS kty, s->>'issuer' AS issuer, s->>'audience' AS audience,
       s->'leeway' AS leeway, s->'max_token_size' AS max_token_size,
       (s->>'policy_version')::bigint = warden.policy_version() AS version_matches
  FROM warden.edge_state() s;
SELECT warden.revoke((warden.login('dora', 'long enough password')).access_token) AS revoked;
SELECT jsonb_array_length(warden.edge_state()->'revoked') AS revoked_ids,
       jsonb_typeof(warden.edge_state()->'revoked'->0->1) AS with_expiry;
SELECT warden.set_enabled('crawler', false);
SELECT warden.revoke_all('dora');
SELECT p->>0 AS principal, p->1 AS enabled, jsonb_typeof(p->2) AS valid_after
  FROM jsonb_array_elements(warden.edge_state()->'principals') p ORDER BY 1;
SELECT has_function_privilege('warden_auth', 'warden.edge_state()', 'EXECUTE') AS edge_may_read,
       has_function_privilege('public', 'warden.edge_state()', 'EXECUTE') AS public_may_read,
       has_function_privilege('warden_auth', 'warden.decide(text, text, text, text[])', 'EXECUTE') AS edge_may_decide;

SELECT pg_temp.settle() AS settled;
DROP EXTENSION warden;
