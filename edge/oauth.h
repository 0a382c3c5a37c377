/*
 * oauth.h
 *		POST /v1/auth/token and POST /v1/auth/revoke (see oauth.c).
 */
#ifndef EDGE_OAUTH_H
#define EDGE_OAUTH_H

#include "http.h"

extern void oauth_configure(int db_timeout_ms);
extern bool oauth_handle_token(HttpRequest *req);
extern bool oauth_handle_revoke(HttpRequest *req);

#endif							/* EDGE_OAUTH_H */
