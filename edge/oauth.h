/*
 * oauth.h
 *		POST /v1/auth/token, /revoke, /introspect, /mfa/enroll and
 *		/mfa/confirm (see oauth.c).
 */
#ifndef EDGE_OAUTH_H
#define EDGE_OAUTH_H

#include "http.h"

extern void oauth_configure(int db_timeout_ms);
extern bool oauth_handle_token(HttpRequest *req);
extern bool oauth_handle_revoke(HttpRequest *req);
extern bool oauth_handle_introspect(HttpRequest *req);
extern bool oauth_handle_mfa_enroll(HttpRequest *req);
extern bool oauth_handle_mfa_confirm(HttpRequest *req);

#endif							/* EDGE_OAUTH_H */
