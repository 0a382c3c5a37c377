/*
 * snapshot.c
 *		The edge's state kept in Redis too (see snapshot.h).
 *
 * Keys (<db> is the digest of the database's host, port and name, never
 * its password; <ns> the installation's namespace from edge_state()):
 *   warden:state:<db>         the last warden.edge_state() text, for a day
 *   warden:revoked:<ns>       sorted set: revoked token id, scored by exp
 *   warden:principals:<ns>    hash: name -> the NOTIFY payload of its state
 *   warden:versions:<ns>      hash: policy, api_keys -> the newest version
 * Every edge writes the same facts; writes are idempotent (a version only
 * rises, through a small script), so many writers agree.
 *
 * Loading runs on the listener's thread and waits for replies that arrive
 * on the Redis thread. The waiter is static and each load has a number: a
 * reply that comes after its load gave up counts for nothing (a revoked id
 * in it is still applied: a fact is a fact).
 */
#include "snapshot.h"

#include <libpq-fe.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "decisions.h"
#include "identity.h"
#include "log.h"
#include "rediscall.h"
#include "shared.h"
#include "timeutil.h"
#include "verifier.h"

#define SNAPSHOT_TTL_S "86400"
#define SNAPSHOT_NS_MAX 64
#define SNAPSHOT_KEY_MAX 128

/* Raises a version field only: many edges write it, in any order. */
#define SNAPSHOT_MAX_SCRIPT \
	"local c = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0') " \
	"if tonumber(ARGV[2]) > c then redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end " \
	"redis.call('EXPIRE', KEYS[1], " SNAPSHOT_TTL_S ") return 0"

static char snapshot_state_key[SNAPSHOT_KEY_MAX];

/* the namespace and leeway of the last state; under snapshot_lock */
static pthread_mutex_t snapshot_lock = PTHREAD_MUTEX_INITIALIZER;
static char snapshot_ns[SNAPSHOT_NS_MAX + 1];
static int64_t snapshot_leeway;

/* a load in progress: replies counted down and the state's text */
static struct
{
	pthread_mutex_t lock;
	pthread_cond_t done;
	int			pending;
	char	   *text;
	uintptr_t	load;			/* which load the replies counted belong to */
}			snapshot_wait = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, NULL, 0};

void
snapshot_configure(const char *database_url)
{
	PQconninfoOption *opts = PQconninfoParse(database_url, NULL);
	char		id[3 * 256] = "";
	unsigned char digest[SHA256_DIGEST_LENGTH];
	int			n;

	for (PQconninfoOption *o = opts; o != NULL && o->keyword != NULL; o++)
		if (o->val != NULL && (strcmp(o->keyword, "host") == 0 || strcmp(o->keyword, "hostaddr") == 0 ||
							   strcmp(o->keyword, "port") == 0 || strcmp(o->keyword, "dbname") == 0))
			snprintf(id + strlen(id), sizeof(id) - strlen(id), "%s=%s;", o->keyword, o->val);
	PQconninfoFree(opts);
	SHA256((const unsigned char *) id, strlen(id), digest);
	n = snprintf(snapshot_state_key, sizeof(snapshot_state_key), "warden:state:");
	for (int i = 0; i < 16; i++)
		n += snprintf(snapshot_state_key + n, sizeof(snapshot_state_key) - (size_t) n, "%02x", digest[i]);
}

/* Sends a command of NUL-terminated strings; done, if any, gets arg. */
static void
snapshot_send(int argc, const char **argv, RedisCallDone done, void *arg)
{
	size_t		lens[8];

	for (int i = 0; i < argc; i++)
		lens[i] = strlen(argv[i]);
	if (!rediscall_send(argc, argv, lens, done, arg) && done != NULL)
		done(arg, NULL);		/* not sent: count the reply as missing */
}

/* A key under the current namespace; false before the first state. */
static bool
snapshot_key(char *out, const char *kind, int64_t *leeway)
{
	bool		ok;

	pthread_mutex_lock(&snapshot_lock);
	ok = snapshot_ns[0] != '\0';
	if (ok)
		snprintf(out, SNAPSHOT_KEY_MAX, "warden:%s:%s", kind, snapshot_ns);
	if (leeway != NULL)
		*leeway = snapshot_leeway;
	pthread_mutex_unlock(&snapshot_lock);
	return ok;
}

static void
snapshot_remember(const json_t *state)
{
	const char *ns = json_string_value(json_object_get(state, "namespace"));

	pthread_mutex_lock(&snapshot_lock);
	snprintf(snapshot_ns, sizeof(snapshot_ns), "%s",
			 ns != NULL && strlen(ns) <= SNAPSHOT_NS_MAX ? ns : "");
	snapshot_leeway = json_integer_value(json_object_get(state, "leeway"));
	pthread_mutex_unlock(&snapshot_lock);
	shared_set_namespace(ns != NULL ? ns : "");
}

void
snapshot_version(const char *which, uint64_t version)
{
	char		key[SNAPSHOT_KEY_MAX];
	char		v[24];

	if (!snapshot_key(key, "versions", NULL))
		return;
	snprintf(v, sizeof(v), "%llu", (unsigned long long) version);
	snapshot_send(6, (const char *[]) {"EVAL", SNAPSHOT_MAX_SCRIPT, "1", key, which, v}, NULL, NULL);
}

void
snapshot_publish(const char *state_text, const json_t *state)
{
	snapshot_remember(state);
	snapshot_send(5, (const char *[]) {"SET", snapshot_state_key, state_text, "EX", SNAPSHOT_TTL_S},
				  NULL, NULL);
	snapshot_version("policy", (uint64_t) json_integer_value(json_object_get(state, "policy_version")));
	snapshot_version("api_keys", (uint64_t) json_integer_value(json_object_get(state, "api_key_version")));
}

void
snapshot_revoked(const char *jti, int64_t exp)
{
	char		key[SNAPSHOT_KEY_MAX];
	char		score[24];
	char		before[24];
	int64_t		leeway;

	if (!snapshot_key(key, "revoked", &leeway))
		return;
	snprintf(score, sizeof(score), "%lld", (long long) exp);
	/* ids past their expiry go with each addition, so the set stays small */
	snprintf(before, sizeof(before), "(%lld", (long long) (time(NULL) - leeway));
	snapshot_send(4, (const char *[]) {"ZADD", key, score, jti}, NULL, NULL);
	snapshot_send(4, (const char *[]) {"ZREMRANGEBYSCORE", key, "-inf", before}, NULL, NULL);
	snapshot_send(3, (const char *[]) {"EXPIRE", key, SNAPSHOT_TTL_S}, NULL, NULL);
}

void
snapshot_principal(const char *name, const char *payload)
{
	char		key[SNAPSHOT_KEY_MAX];

	if (!snapshot_key(key, "principals", NULL))
		return;
	snapshot_send(4, (const char *[]) {"HSET", key, name, payload}, NULL, NULL);
	snapshot_send(3, (const char *[]) {"EXPIRE", key, SNAPSHOT_TTL_S}, NULL, NULL);
}

/* --- loading ----------------------------------------------------------------- */

/* A reply of load arg is in; one of an abandoned load counts for nothing. */
static void
snapshot_reply_done(void *arg)
{
	pthread_mutex_lock(&snapshot_wait.lock);
	if ((uintptr_t) arg == snapshot_wait.load)
		snapshot_wait.pending--;
	pthread_cond_signal(&snapshot_wait.done);
	pthread_mutex_unlock(&snapshot_wait.lock);
}

static bool
snapshot_current(void *arg)
{
	bool		current;

	pthread_mutex_lock(&snapshot_wait.lock);
	current = (uintptr_t) arg == snapshot_wait.load;
	pthread_mutex_unlock(&snapshot_wait.lock);
	return current;
}

static void
snapshot_got_state(void *arg, const redisReply *r)
{
	pthread_mutex_lock(&snapshot_wait.lock);
	if ((uintptr_t) arg == snapshot_wait.load)
	{
		free(snapshot_wait.text);
		snapshot_wait.text = r != NULL && r->type == REDIS_REPLY_STRING ?
			strndup(r->str, r->len) : NULL;
	}
	pthread_mutex_unlock(&snapshot_wait.lock);
	snapshot_reply_done(arg);
}

/* ZRANGEBYSCORE ... WITHSCORES: id, exp, id, exp ... */
static void
snapshot_got_revoked(void *arg, const redisReply *r)
{
	/* a late one still revokes: a fact is a fact */
	for (size_t i = 0; r != NULL && r->type == REDIS_REPLY_ARRAY && i + 1 < r->elements; i += 2)
		if (r->element[i]->type == REDIS_REPLY_STRING && r->element[i + 1]->type == REDIS_REPLY_STRING)
			verifier_revoke(r->element[i]->str, strtoll(r->element[i + 1]->str, NULL, 10));
	snapshot_reply_done(arg);
}

/* HGETALL of principals: name, {"principal", "enabled", "valid_after"} ... */
static void
snapshot_got_principals(void *arg, const redisReply *r)
{
	for (size_t i = 0; snapshot_current(arg) && r != NULL && r->type == REDIS_REPLY_ARRAY &&
		 i + 1 < r->elements; i += 2)
	{
		json_t	   *p;
		const json_t *va;

		if (r->element[i + 1]->type != REDIS_REPLY_STRING ||
			(p = json_loadb(r->element[i + 1]->str, r->element[i + 1]->len, 0, NULL)) == NULL)
			continue;
		va = json_object_get(p, "valid_after");
		if (json_is_string(json_object_get(p, "principal")))
			verifier_principal(json_string_value(json_object_get(p, "principal")),
							   json_is_true(json_object_get(p, "enabled")),
							   json_is_integer(va) ? json_integer_value(va) : INT64_MIN);
		json_decref(p);
	}
	snapshot_reply_done(arg);
}

/* HGETALL of versions: policy, N, api_keys, N */
static void
snapshot_got_versions(void *arg, const redisReply *r)
{
	for (size_t i = 0; r != NULL && r->type == REDIS_REPLY_ARRAY && i + 1 < r->elements; i += 2)
	{
		uint64_t	v;

		if (r->element[i]->type != REDIS_REPLY_STRING || r->element[i + 1]->type != REDIS_REPLY_STRING)
			continue;
		v = strtoull(r->element[i + 1]->str, NULL, 10);
		if (strcmp(r->element[i]->str, "policy") == 0)
			decisions_policy(v, false);
		else if (strcmp(r->element[i]->str, "api_keys") == 0)
			identity_api_keys_changed(v, false);
	}
	snapshot_reply_done(arg);
}

/* Waits until the replies asked for are in, or the deadline; true if they are. */
static bool
snapshot_await(int64_t deadline_ms)
{
	bool		all;

	pthread_mutex_lock(&snapshot_wait.lock);
	while (snapshot_wait.pending > 0 && timeutil_mono_ms() < deadline_ms)
	{
		struct timespec until;

		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += 20 * 1000000L;
		if (until.tv_nsec >= 1000000000L)
		{
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		(void) pthread_cond_timedwait(&snapshot_wait.done, &snapshot_wait.lock, &until);
	}
	all = snapshot_wait.pending <= 0;
	pthread_mutex_unlock(&snapshot_wait.lock);
	return all;
}

bool
snapshot_load(int timeout_ms)
{
	int64_t		deadline = timeutil_mono_ms() + timeout_ms;
	char		key[3][SNAPSHOT_KEY_MAX];
	char		since[24];
	json_t	   *state = NULL;
	char		err[256];
	char	   *text;
	int64_t		leeway;

	void	   *load;

	if (!rediscall_up())
		return false;
	pthread_mutex_lock(&snapshot_wait.lock);
	load = (void *) ++snapshot_wait.load;
	snapshot_wait.pending = 1;
	pthread_mutex_unlock(&snapshot_wait.lock);
	snapshot_send(2, (const char *[]) {"GET", snapshot_state_key}, snapshot_got_state, load);
	if (!snapshot_await(deadline))
		return false;
	pthread_mutex_lock(&snapshot_wait.lock);
	text = snapshot_wait.text;
	snapshot_wait.text = NULL;
	pthread_mutex_unlock(&snapshot_wait.lock);
	if (text != NULL)
		state = json_loads(text, 0, NULL);
	free(text);
	if (state == NULL)
		return false;
	if (!verifier_load(state, err, sizeof(err)))
	{
		log_write(LOG_LEVEL_WARN, "the edge state in Redis is unusable", "{s:s}", "error", err);
		json_decref(state);
		return false;
	}
	snapshot_remember(state);
	decisions_policy((uint64_t) json_integer_value(json_object_get(state, "policy_version")), true);
	identity_api_keys_changed((uint64_t) json_integer_value(json_object_get(state, "api_key_version")),
							  true);
	json_decref(state);

	/* then what changed after it was written */
	if (!snapshot_key(key[0], "revoked", &leeway) || !snapshot_key(key[1], "principals", NULL) ||
		!snapshot_key(key[2], "versions", NULL))
		return true;
	snprintf(since, sizeof(since), "%lld", (long long) (time(NULL) - leeway));
	pthread_mutex_lock(&snapshot_wait.lock);
	snapshot_wait.pending = 3;
	pthread_mutex_unlock(&snapshot_wait.lock);
	snapshot_send(5, (const char *[]) {"ZRANGEBYSCORE", key[0], since, "+inf", "WITHSCORES"},
				  snapshot_got_revoked, load);
	snapshot_send(2, (const char *[]) {"HGETALL", key[1]}, snapshot_got_principals, load);
	snapshot_send(2, (const char *[]) {"HGETALL", key[2]}, snapshot_got_versions, load);
	if (!snapshot_await(deadline))
	{
		/* part of the changes may be missing: better no state than that */
		log_write(LOG_LEVEL_WARN, "Redis did not give the edge state's changes in time", "{s:i}",
				  "timeout_ms", timeout_ms);
		verifier_unload();
		return false;
	}
	log_write(LOG_LEVEL_INFO, "edge state loaded from Redis while PostgreSQL is away", "{s:I}",
			  "policy_version", (json_int_t) decisions_policy_version());
	return true;
}
