/*
 * authz.h
 *		/v1/authz, forward authorization (see authz.c).
 */
#ifndef EDGE_AUTHZ_H
#define EDGE_AUTHZ_H

#include "http.h"

extern void authz_configure(int db_timeout_ms);
extern bool authz_handle(HttpRequest *req);

#endif							/* EDGE_AUTHZ_H */
