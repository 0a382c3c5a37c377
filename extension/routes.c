/*
 * routes.c
 *		The SQL face of forward-authorization routes: pattern checks for
 *		warden.add_route() and warden.match_route() for SQL callers, both on
 *		core/route.c, the code the edge matches with.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/builtins.h"

#include "route.h"
#include "warden.h"

PG_FUNCTION_INFO_V1(warden_route_check);

/* warden._route_check(pattern text, resource text): raises WA008 or returns. */
Datum
warden_route_check(PG_FUNCTION_ARGS)
{
	char	   *pattern = text_to_cstring(PG_GETARG_TEXT_PP(0));
	char	   *resource = text_to_cstring(PG_GETARG_TEXT_PP(1));
	char		err[256];

	if (!route_check(pattern, resource, err, sizeof(err)))
		ereport(ERROR,
				(errcode(ERRCODE_WARDEN_MALFORMED_ROUTE),
				 errmsg("malformed route \"%s\" -> \"%s\"", pattern, resource),
				 errdetail("%s.", err),
				 errhint("A pattern is a path like /documents/{id}; the resource names the same placeholders, like document:{id}.")));
	PG_RETURN_VOID();
}

/* A text in the memory of the caller of SPI, so it outlives SPI_finish. */
static Datum
upper_text(const char *s)
{
	size_t		len = strlen(s);
	text	   *t = SPI_palloc(VARHDRSZ + len);

	SET_VARSIZE(t, VARHDRSZ + len);
	memcpy(VARDATA(t), s, len);
	return PointerGetDatum(t);
}

PG_FUNCTION_INFO_V1(warden_match_route);

/*
 * warden.match_route(method, path) -> (permission, resource, pattern): the
 * best route of the method (or *) matching the path, or nulls.
 */
Datum
warden_match_route(PG_FUNCTION_ARGS)
{
	char	   *method = text_to_cstring(PG_GETARG_TEXT_PP(0));
	text	   *path = PG_GETARG_TEXT_PP(1);
	TupleDesc	desc;
	Datum		values[3];
	bool		nulls[3] = {true, true, true};
	Oid			types[1] = {TEXTOID};
	Datum		args[1];
	int			best_rank = -1;
	uint64		i;

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "warden.match_route must return a record");
	desc = BlessTupleDesc(desc);
	args[0] = CStringGetTextDatum(method);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute_with_args("SELECT pattern, permission, resource FROM warden.routes"
							  " WHERE method = upper($1) OR method = '*'"
							  " ORDER BY method = '*', id",
							  1, types, args, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read warden.routes");
	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	t = SPI_tuptable->vals[i];
		char	   *pattern = SPI_getvalue(t, SPI_tuptable->tupdesc, 1);
		RouteVars	vars;
		char		resource[ROUTE_PATTERN_MAX * 2];
		int			rank = route_rank(pattern);

		/* the method's own routes first: a * route wins only by rank */
		if (rank > best_rank &&
			route_match(pattern, VARDATA_ANY(path), VARSIZE_ANY_EXHDR(path), &vars) &&
			route_expand(SPI_getvalue(t, SPI_tuptable->tupdesc, 3), &vars,
						 resource, sizeof(resource)))
		{
			best_rank = rank;
			values[0] = upper_text(SPI_getvalue(t, SPI_tuptable->tupdesc, 2));
			values[1] = upper_text(resource);
			values[2] = upper_text(pattern);
			nulls[0] = nulls[1] = nulls[2] = false;
		}
	}
	SPI_finish();
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(desc, values, nulls)));
}
