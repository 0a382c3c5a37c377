/*
 * jwks.h
 *		GET /.well-known/jwks.json (see jwks.c).
 */
#ifndef EDGE_JWKS_H
#define EDGE_JWKS_H

#include "http.h"

extern void jwks_configure(int db_timeout_ms);
extern bool jwks_handle(HttpRequest *req);

#endif							/* EDGE_JWKS_H */
