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
