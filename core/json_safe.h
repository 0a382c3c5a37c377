/*
 * json_safe.h
 *		jansson, made safe to run inside the PostgreSQL server.
 *
 * Code in core/ runs in both faces, and in the server a jansson call by name
 * can bind to a server function of the same name: the postgres executable
 * exports json_object() (the SQL function), and the dynamic linker resolves
 * a shared library's references to the executable first. Calling it as
 * jansson's constructor crashes the backend. json_pack("{}") builds the
 * same empty object through jansson's internal call, so json_object() is
 * mapped onto it here. Files include this header instead of <jansson.h>;
 * the unit tests check that warden.so imports no symbol the server defines.
 */
#ifndef WARDEN_JSON_SAFE_H
#define WARDEN_JSON_SAFE_H

#include <jansson.h>

#define json_object() json_pack("{}")

#endif							/* WARDEN_JSON_SAFE_H */
