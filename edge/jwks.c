/*
 * jwks.c
 *		GET /.well-known/jwks.json: warden's public signing keys as a JWK
 *		Set (RFC 7517), as warden.jwks() returns them.
 *
 * The set changes only when keys rotate, and a rotation publishes the next
 * key a full rotation ahead (warden.rotate_signing_key()), so a copy some
 * minutes old still verifies every token being issued. The edge therefore
 * keeps the set in process for JWKS_REFRESH_MS and lets clients cache it for
 * JWKS_MAX_AGE_S; a stale copy is refreshed from the database through the
 * pool, and served as it is if the database cannot answer (a set a little
 * old beats no set). Clients revalidate with the ETag (304).
 *
 * Locking: jwks_lock guards the cached set.
 */
#include "jwks.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dbpool.h"
#include "errors.h"
#include "log.h"
#include "pgconn.h"
#include "timeutil.h"

#define JWKS_REFRESH_MS 30000
#define JWKS_MAX_AGE_S 300
#define JWKS_ETAG_MAX 24

static pthread_mutex_t jwks_lock = PTHREAD_MUTEX_INITIALIZER;
static json_t *jwks_set;		/* NULL until loaded */
static char jwks_etag[JWKS_ETAG_MAX];
static int64_t jwks_loaded_ms;
static int	jwks_timeout_ms = 3000;

typedef struct JwksJob
{
	DbJob		job;
	HttpRequest *req;
} JwksJob;

void
jwks_configure(int db_timeout_ms)
{
	jwks_timeout_ms = db_timeout_ms;
}

/* A strong ETag: FNV-1a of the set's compact text. */
static void
jwks_make_etag(const char *text, char *out)
{
	uint64_t	h = UINT64_C(0xcbf29ce484222325);

	for (; *text != '\0'; text++)
	{
		h ^= (unsigned char) *text;
		h *= UINT64_C(0x100000001b3);
	}
	snprintf(out, JWKS_ETAG_MAX, "\"%016llx\"", (unsigned long long) h);
}

/* The cached set (a new reference) and its ETag, or NULL. */
static json_t *
jwks_get(char *etag, bool *stale)
{
	json_t	   *set;

	pthread_mutex_lock(&jwks_lock);
	set = json_incref(jwks_set);
	memcpy(etag, jwks_etag, JWKS_ETAG_MAX);
	*stale = set == NULL || timeutil_mono_ms() - jwks_loaded_ms > JWKS_REFRESH_MS;
	pthread_mutex_unlock(&jwks_lock);
	return set;
}

static void
jwks_store(json_t *set)
{
	char	   *text = json_dumps(set, JSON_COMPACT | JSON_SORT_KEYS);
	char		etag[JWKS_ETAG_MAX];

	if (text == NULL)
	{
		json_decref(set);
		return;
	}
	jwks_make_etag(text, etag);
	free(text);
	pthread_mutex_lock(&jwks_lock);
	json_decref(jwks_set);
	jwks_set = set;
	memcpy(jwks_etag, etag, JWKS_ETAG_MAX);
	jwks_loaded_ms = timeutil_mono_ms();
	pthread_mutex_unlock(&jwks_lock);
}

/* Answers from the cache: the set, 304, or 503 when there is none. */
static bool
jwks_answer(HttpRequest *req)
{
	char		etag[JWKS_ETAG_MAX];
	char		cache[64];
	bool		stale;
	json_t	   *set = jwks_get(etag, &stale);
	const char *match;

	if (set == NULL)
		return errors_respond(req, EDGE_ERR_UNAVAILABLE,
							  "the signing keys cannot be read now");
	snprintf(cache, sizeof(cache), "public, max-age=%d", JWKS_MAX_AGE_S);
	if (!http_add_header(req, "Cache-Control", cache) ||
		!http_add_header(req, "ETag", etag))
	{
		json_decref(set);
		return false;
	}
	match = http_request_header(req, "If-None-Match");
	if (match != NULL && strstr(match, etag) != NULL)
	{
		json_decref(set);
		return http_respond_empty(req, 304);
	}
	return http_respond_json(req, 200, set);
}

/* On a pool thread: read warden.jwks(), then wake the request. */
static bool
jwks_run(DbJob *job, PGconn *conn, const char *err)
{
	JwksJob    *j = (JwksJob *) job;
	HttpRequest *req = j->req;
	PGresult   *res = NULL;
	char		qerr[256] = "";
	bool		conn_ok = true;

	if (conn != NULL)
	{
		res = pgconn_query(conn, "SELECT warden.jwks()::text", 0, NULL,
						   job->deadline_ms, qerr, sizeof(qerr));
		conn_ok = res != NULL;
		if (res != NULL && PQresultStatus(res) == PGRES_TUPLES_OK &&
			PQntuples(res) == 1)
		{
			json_t	   *set = json_loads(PQgetvalue(res, 0, 0), 0, NULL);

			if (set != NULL)
				jwks_store(set);
		}
		else if (res != NULL)
			snprintf(qerr, sizeof(qerr), "%.*s",
					 (int) strcspn(PQresultErrorMessage(res), "\n"),
					 PQresultErrorMessage(res));
		PQclear(res);
		err = qerr[0] != '\0' ? qerr : NULL;
	}
	if (err != NULL)
		log_write(LOG_LEVEL_WARN, "could not read the signing keys",
				  "{s:s, s:s}", "error", err, "request_id", http_request_id(req));
	http_resume(req);			/* last: the request may be gone after it */
	return conn_ok;
}

bool
jwks_handle(HttpRequest *req)
{
	char		etag[JWKS_ETAG_MAX];
	bool		stale;
	json_t	   *set = jwks_get(etag, &stale);
	JwksJob    *j;

	json_decref(set);
	if (!stale)
		return jwks_answer(req);

	j = calloc(1, sizeof(*j));
	if (j == NULL)
		return jwks_answer(req);
	j->req = req;
	j->job.run = jwks_run;
	j->job.deadline_ms = timeutil_mono_ms() + jwks_timeout_ms;
	http_set_data(req, j, NULL);
	http_suspend(req, jwks_answer);
	if (!dbpool_submit(&j->job))
		http_resume(req);		/* the pool is full: answer from the cache */
	return true;
}
