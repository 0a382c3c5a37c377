/*
 * jansson_pg.h
 *		Includes utils/builtins.h and jansson together.
 *
 * Both declare a json_object(): PostgreSQL's SQL function json_object() in
 * fmgrprotos.h and jansson's constructor. PostgreSQL's declaration is renamed
 * while builtins.h is read, so files that use jansson include this header
 * instead of utils/builtins.h, before any other header that pulls it in.
 * The same clash at run time is dealt with in core/json_safe.h.
 */
#ifndef WARDEN_JANSSON_PG_H
#define WARDEN_JANSSON_PG_H

#define json_object warden_pg_json_object
#include "utils/builtins.h"
#undef json_object

#include "json_safe.h"

#endif							/* WARDEN_JANSSON_PG_H */
