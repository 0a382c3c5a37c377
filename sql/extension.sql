--
-- The extension itself: schema, version, preloading, settings, drop.
--
CREATE EXTENSION warden;

-- The library that is loaded is the one the SQL objects were installed for.
SELECT warden.version() = extversion AS library_matches_catalog
  FROM pg_extension WHERE extname = 'warden';

-- Everything lives in schema warden, which the extension owns.
SELECT n.nspname, e.extname
  FROM pg_namespace n
  JOIN pg_depend d ON d.classid = 'pg_namespace'::regclass AND d.objid = n.oid
  JOIN pg_extension e ON e.oid = d.refobjid
 WHERE n.nspname = 'warden';

-- warden is preloaded: hooks and workers depend on it.
SELECT 'warden' = ANY (regexp_split_to_array(current_setting('shared_preload_libraries'), '\s*,\s*'))
       AS preloaded;

-- The warden. prefix is reserved: a misspelt setting is refused rather
-- than silently kept as a placeholder.
SET warden.no_such_setting = 'on';
SELECT set_config('warden.no_such_setting', 'on', false);

-- Ordinary roles may call what is harmless.
CREATE ROLE regress_warden_user;
SET ROLE regress_warden_user;
SELECT warden.version() IS NOT NULL AS callable_by_anyone;
RESET ROLE;
DROP ROLE regress_warden_user;

-- The schema is fixed.
ALTER EXTENSION warden SET SCHEMA public;

-- Dropping the extension removes its schema and everything in it.
DROP EXTENSION warden;
SELECT count(*) AS schemas_left FROM pg_namespace WHERE nspname = 'warden';

-- A schema warden that is not the extension's is never taken over.
CREATE SCHEMA warden;
CREATE EXTENSION warden;
DROP SCHEMA warden;
