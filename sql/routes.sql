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

SELECT pg_temp.settle() AS settled;
DROP EXTENSION warden;
