/*
 * ratelimit.c
 *		Rate limits: token buckets in Redis, one Lua script per check,
 *		and the same buckets in process while Redis is away (see
 *		ratelimit.h).
 *
 * Redis: the script below takes a token from each bucket of the check, or
 * from none, with GCRA (core/tokenbucket.h explains it), on Redis's own
 * clock (TIME), so the edges' clocks never matter and every edge counts in
 * the same buckets. A bucket is a key "warden:rl:<kind>:<sha1>" holding
 * its theoretical arrival time in microseconds, expiring when the bucket
 * would be full again. It is sent by EVALSHA; after NOSCRIPT (a restarted
 * or flushed Redis) once by EVAL, which also caches it again.
 *
 * Names: what a bucket counts (a client address, a user name, a
 * principal) leaves the edge only as SHA-256 of the kind and the text;
 * the script names the key by SHA-1 of that digest and a random salt kept
 * in Redis (warden:rl:salt, written by the first edge that finds none, from
 * the value every edge offers), so neither Redis's keys nor its slow log
 * nor MONITOR ever show an address or a name, and keys cannot be matched
 * against a list of likely names without the salt. Log lines name the kind
 * of limit only.
 *
 * Redis away (rediscall down, no reply in time, an error reply): the same
 * buckets are kept in process, in a fixed table (core/tokenbucket.c, 16384
 * buckets, the fullest forgotten first), so each edge enforces the limits
 * on its own share of the traffic: a client spread over N edges gets up to
 * N times its limit, never unlimited, and logins stay limited per user.
 * With Redis back the next check uses it again; what was counted in
 * process is not carried over.
 *
 * Without waiting (RATELIMIT_NOWAIT, /v1/rpc): a check there must not cost
 * a round trip per call, so the edge decides by its own buckets at once and
 * counts the call for Redis; when Redis refuses a bucket, the edge
 * remembers the refusal until the bucket's retry time (a small table of
 * refused buckets) and refuses the bucket's calls itself. Every call is
 * counted in Redis, so the shared limit holds; it is enforced up to
 * RATELIMIT_FLUSH_MS and a Redis round trip late at each edge. Counts go
 * in aggregate: per set of buckets, the calls made meanwhile are sent
 * together by the Redis thread's tick, at most one script call per set in
 * flight and one per RATELIMIT_FLUSH_MS (n calls are one take of n
 * intervals from a bucket of burst / n: the same span of time), so a busy
 * client costs Redis a hundred small scripts a second, not one per call.

 * The client address is the TCP peer, or, when the peer is one of
 * WARDEN_TRUSTED_PROXIES, the right-most address of X-Forwarded-For that
 * is not (core/ipaddr.c); IPv6 clients are counted per /64.
 *
 * Threads: a check is built and decided on the request's thread; the
 * Redis reply is read on the Redis thread into the check, which the
 * request owns, before the request is resumed. The in-process table is
 * guarded by ratelimit_local_lock. Settings are set before the daemon
 * starts and read-only after.
 */
#include "ratelimit.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "digest.h"
#include "errors.h"
#include "ipaddr.h"
#include "log.h"
#include "rediscall.h"
#include "textfmt.h"
#include "timeutil.h"
#include "tokenbucket.h"

#define RATELIMIT_LOCAL_SLOTS (2048 * TOKENBUCKET_WAYS)
#define RATELIMIT_XFF_MAX 16
#define RATELIMIT_SALT_KEY "warden:rl:salt"
/* EVALSHA, sha, numkeys, the salt key, the offered salt; 4 per bucket */
#define RATELIMIT_ARGC_MAX (5 + 4 * TOKENBUCKET_MAX)

typedef enum RateKind
{
	RATE_IP,
	RATE_PRINCIPAL,
	RATE_LOGIN_IP,
	RATE_LOGIN_USER,
	RATE_NKINDS
} RateKind;

/* In Redis keys; as metric labels with '_' for '-'. */
static const char *const ratelimit_kind_names[RATE_NKINDS] = {
	[RATE_IP] = "ip",
	[RATE_PRINCIPAL] = "principal",
	[RATE_LOGIN_IP] = "login-ip",
	[RATE_LOGIN_USER] = "login-user",
};

/*
 * The script. KEYS[1]: the salt's key. ARGV[1]: a salt to keep if there is
 * none; then per bucket: kind, digest (hex), interval (us), burst. Returns
 * {allowed, which (0-based), retry_us, remaining, reset_us} as in
 * tokenbucket_take. Lua numbers are doubles: exact for these microsecond
 * counts (the parser keeps a bucket's span within a year).
 */
static const char ratelimit_script[] =
"local salt = redis.call('GET', KEYS[1])\n"
"if not salt then\n"
"  salt = ARGV[1]\n"
"  redis.call('SET', KEYS[1], salt)\n"
"end\n"
"local t = redis.call('TIME')\n"
"local now = tonumber(t[1]) * 1000000 + tonumber(t[2])\n"
"local keys, tats = {}, {}\n"
"local allowed, which, retry, left, reset = 1, -1, 0, -1, 0\n"
"for i = 0, (#ARGV - 1) / 4 - 1 do\n"
"  local b = 2 + 4 * i\n"
"  local interval, burst = tonumber(ARGV[b + 2]), tonumber(ARGV[b + 3])\n"
"  local key = 'warden:rl:' .. ARGV[b] .. ':' .. redis.sha1hex(salt .. ARGV[b + 1])\n"
"  local base = tonumber(redis.call('GET', key)) or 0\n"
"  if base < now then base = now end\n"
"  local ahead, span = base + interval - now, burst * interval\n"
"  if ahead > span then\n"
"    if allowed == 1 or ahead - span > retry then\n"
"      which, retry, left, reset = i, ahead - span, 0, base - now\n"
"    end\n"
"    allowed = 0\n"
"  elseif allowed == 1 then\n"
"    local l = math.floor((span - ahead) / interval)\n"
"    if left < 0 or l < left then which, left, reset = i, l, ahead end\n"
"  end\n"
"  keys[i + 1], tats[i + 1] = key, base + interval\n"
"end\n"
"if allowed == 1 then\n"
"  for i = 1, #keys do\n"
"    redis.call('SET', keys[i], string.format('%.0f', tats[i]), 'PX',\n"
"      math.ceil((tats[i] - now) / 1000))\n"
"  end\n"
"end\n"
"return {allowed, which, retry, left, reset}\n";

typedef struct RateBucket
{
	RateKind	kind;
	const TokenBucketSpec *spec;
	unsigned char digest[32];	/* SHA-256 of kind, NUL, text */
	char		hex[65];
} RateBucket;

typedef struct RateCheck
{
	HttpRequest *req;
	HttpHandler next;
	void	   *saved;			/* the request's data, kept aside */
	void		(*saved_free) (void *data);
	int			n;
	RateBucket	buckets[TOKENBUCKET_MAX];
	bool		retried;		/* EVAL after NOSCRIPT sent */
	bool		answered;		/* verdict is Redis's */
	unsigned	count;			/* calls it counts in Redis (no-wait checks) */
	int			slot;			/* its slot of ratelimit_pending */
	uint64_t	set;			/* the key of its buckets together */
	TokenBucketVerdict verdict;
} RateCheck;

static struct
{
	TokenBucketSpec ip;
	TokenBucketSpec principal;
	TokenBucketSpec login;
	TokenBucketSpec login_ip;
	IpNetworkList trusted;
	char		sha[41];		/* of the script, for EVALSHA */
	char		salt[33];		/* offered when Redis has none */
	TokenBucketSlot *slots;
	TokenBucketTable table;
}			ratelimit;

static pthread_mutex_t ratelimit_local_lock = PTHREAD_MUTEX_INITIALIZER;

/*
 * Buckets Redis refused lately, for checks that do not wait (by the first
 * bytes of the bucket's digest; a slot taken by another bucket only
 * forgets a refusal early). Under ratelimit_local_lock.
 */
#define RATELIMIT_REFUSED_SLOTS 4096

static struct
{
	uint64_t	key;
	int64_t		until_us;		/* timeutil_mono_us() */
	uint32_t	limit;
}			ratelimit_refused[RATELIMIT_REFUSED_SLOTS];

/*
 * No-wait checks counted in Redis in aggregate: per set of buckets, the
 * buckets and the calls made since the last count was sent; the slots
 * with calls are listed in ratelimit_active for the tick. A slot belongs
 * to one set while it has calls or a count in flight; another set meeting
 * it then is counted alone, at once. Under ratelimit_local_lock.
 */
#define RATELIMIT_PENDING_SLOTS 1024
#define RATELIMIT_FLUSH_MS 10

static struct
{
	uint64_t	set;
	unsigned	pending;		/* calls made since the last was sent */
	bool		in_flight;
	bool		active;			/* listed in ratelimit_active */
	int			n;
	RateBucket	buckets[TOKENBUCKET_MAX];
}			ratelimit_pending[RATELIMIT_PENDING_SLOTS];
static int	ratelimit_active[RATELIMIT_PENDING_SLOTS];
static int	ratelimit_nactive;
static atomic_ulong ratelimit_limited[RATE_NKINDS];
static atomic_ulong ratelimit_local_count;
static atomic_bool ratelimit_odd_reply_logged;

static void
ratelimit_hex(const unsigned char *bytes, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t		i;

	for (i = 0; i < n; i++)
	{
		out[2 * i] = digits[bytes[i] >> 4];
		out[2 * i + 1] = digits[bytes[i] & 15];
	}
	out[2 * n] = '\0';
}

static bool ratelimit_tick(void);

bool
ratelimit_configure(const EdgeConfig *cfg)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned char salt[16];
	unsigned int mdlen = 0;

	ratelimit.ip = cfg->rate_limit_ip;
	ratelimit.principal = cfg->rate_limit_principal;
	ratelimit.login = cfg->rate_limit_login;
	ratelimit.login_ip = cfg->rate_limit_login_ip;
	ratelimit.trusted = cfg->trusted_proxies;
	if (EVP_Digest(ratelimit_script, strlen(ratelimit_script), md, &mdlen,
				   EVP_sha1(), NULL) != 1 || mdlen != 20 ||
		RAND_bytes(salt, sizeof(salt)) != 1)
		return false;
	ratelimit_hex(md, 20, ratelimit.sha);
	ratelimit_hex(salt, sizeof(salt), ratelimit.salt);
	ratelimit.slots = calloc(RATELIMIT_LOCAL_SLOTS, sizeof(TokenBucketSlot));
	if (ratelimit.slots == NULL)
		return false;
	tokenbucket_table_init(&ratelimit.table, ratelimit.slots, RATELIMIT_LOCAL_SLOTS);
	rediscall_set_tick(ratelimit_tick, RATELIMIT_FLUSH_MS);
	return true;
}

void
ratelimit_free(void)
{
	free(ratelimit.slots);
	ratelimit.slots = NULL;
}

/* --- building a check ---------------------------------------------------- */

/* The client's address as a limit counts it ("10.0.0.1", "2001:db8::/64"). */
static void
ratelimit_client_key(const HttpRequest *req, char out[IPADDR_TEXT_MAX])
{
	char		text[IPADDR_TEXT_MAX];
	const char *xff[RATELIMIT_XFF_MAX];
	IpAddr		peer;
	IpAddr		client;
	int			nxff = 0;

	if (!http_request_peer(req, text, sizeof(text)) ||
		!ipaddr_parse(text, strlen(text), &peer))
	{
		/* not a TCP peer: every such request shares one bucket */
		snprintf(out, IPADDR_TEXT_MAX, "unknown");
		return;
	}
	if (ratelimit.trusted.n > 0 && ipaddr_in_list(&peer, &ratelimit.trusted))
	{
		nxff = http_request_header_values(req, "X-Forwarded-For", xff, RATELIMIT_XFF_MAX);
		/* more headers than read: the right-most would be missed, so none */
		if (nxff > RATELIMIT_XFF_MAX)
			nxff = 0;
	}
	(void) ipaddr_client(&peer, xff, (size_t) nxff, &ratelimit.trusted, &client);
	ipaddr_limit_key(&client, out);
}

/*
 * The bucket keys this thread derived last. Clients come back, and a key's
 * SHA-256 through OpenSSL (which allocates per digest) was a visible share
 * of a request's CPU; a short key seen again is found here instead.
 */
#define RATELIMIT_MEMO 8
#define RATELIMIT_MEMO_TEXT 64

typedef struct RateKeyMemo
{
	RateKind	kind;
	bool		used;
	char		text[RATELIMIT_MEMO_TEXT];
	unsigned char digest[32];
	char		hex[65];
} RateKeyMemo;

static __thread RateKeyMemo ratelimit_memo[RATELIMIT_MEMO];
static __thread unsigned ratelimit_memo_next;

/* The bucket's key (digest and hex) for kind and text; false: no digest. */
static bool
ratelimit_key(RateBucket *b, RateKind kind, const char *text)
{
	const char *kname = ratelimit_kind_names[kind];
	size_t		len = strlen(text);
	RateKeyMemo *m;

	for (int i = 0; i < RATELIMIT_MEMO; i++)
	{
		m = &ratelimit_memo[i];
		if (m->used && m->kind == kind && strcmp(m->text, text) == 0)
		{
			memcpy(b->digest, m->digest, sizeof(b->digest));
			memcpy(b->hex, m->hex, sizeof(b->hex));
			return true;
		}
	}
	if (!digest_sha256(kname, strlen(kname) + 1, text, len, b->digest))
		return false;
	ratelimit_hex(b->digest, 32, b->hex);
	if (len < RATELIMIT_MEMO_TEXT)
	{
		m = &ratelimit_memo[ratelimit_memo_next++ % RATELIMIT_MEMO];
		m->used = true;
		m->kind = kind;
		memcpy(m->text, text, len + 1);
		memcpy(m->digest, b->digest, sizeof(m->digest));
		memcpy(m->hex, b->hex, sizeof(m->hex));
	}
	return true;
}

static bool
ratelimit_add(RateCheck *rc, RateKind kind, const TokenBucketSpec *spec,
			  const char *text)
{
	RateBucket *b = &rc->buckets[rc->n];

	if (!spec->enabled || text == NULL)
		return true;
	if (!ratelimit_key(b, kind, text))
		return false;
	b->kind = kind;
	b->spec = spec;
	rc->n++;
	return true;
}

static void
ratelimit_check_free(void *data)
{
	RateCheck  *rc = data;

	if (rc == NULL)
		return;
	if (rc->saved != NULL)
		(rc->saved_free != NULL ? rc->saved_free : free) (rc->saved);
	explicit_bzero(rc, sizeof(*rc));
	free(rc);
}

/* --- deciding ------------------------------------------------------------- */

/* The buckets of rc in this edge's own table. */
static void
ratelimit_decide_locally(RateCheck *rc)
{
	unsigned char keys[TOKENBUCKET_MAX][TOKENBUCKET_KEY_LEN];
	const TokenBucketSpec *specs[TOKENBUCKET_MAX];
	int			i;

	for (i = 0; i < rc->n; i++)
	{
		memcpy(keys[i], rc->buckets[i].digest, TOKENBUCKET_KEY_LEN);
		specs[i] = rc->buckets[i].spec;
	}
	pthread_mutex_lock(&ratelimit_local_lock);
	tokenbucket_table_take(&ratelimit.table,
						   (const unsigned char (*)[TOKENBUCKET_KEY_LEN]) keys,
						   specs, rc->n, (uint64_t) timeutil_mono_us(), &rc->verdict);
	pthread_mutex_unlock(&ratelimit_local_lock);
	atomic_fetch_add(&ratelimit_local_count, 1);
}

/* Whole seconds, rounded up. */
static unsigned long long
ratelimit_seconds(uint64_t us)
{
	return (unsigned long long) ((us + 999999) / 1000000);
}

/*
 * Whether v is about a tighter bucket than the RateLimit-* headers an
 * earlier check of this request set (a login is checked per address
 * first, then per user): the headers speak of the bucket nearest to
 * refusing.
 */
static bool
ratelimit_tighter(const HttpRequest *req, const TokenBucketVerdict *v)
{
	const char *before = http_response_header(req, "RateLimit-Remaining");

	return !v->allowed || before == NULL || strtoul(before, NULL, 10) > v->remaining;
}

/*
 * The verdict's answer: headers, then next or 429. rc is freed here,
 * before next runs (next may take the request's data slot again).
 */
static bool
ratelimit_answer(HttpRequest *req, RateCheck *rc)
{
	TokenBucketVerdict v = rc->verdict;
	HttpHandler next = rc->next;
	RateKind	kind = v.which >= 0 && v.which < rc->n ? rc->buckets[v.which].kind : RATE_IP;
	char		num[24];

	ratelimit_check_free(rc);
	if (v.which >= 0 && ratelimit_tighter(req, &v))
	{
		/*
		 * The RateLimit-* headers are advice: a response that has no room
		 * left for them goes without.
		 */
		textfmt_u64(num, v.limit);
		(void) http_set_header(req, "RateLimit-Limit", num);
		textfmt_u64(num, v.remaining);
		(void) http_set_header(req, "RateLimit-Remaining", num);
		textfmt_u64(num, ratelimit_seconds(v.reset_us));
		(void) http_set_header(req, "RateLimit-Reset", num);
	}
	if (v.allowed)
		return next(req);

	atomic_fetch_add(&ratelimit_limited[kind], 1);
	textfmt_u64(num, v.retry_us > 0 ? ratelimit_seconds(v.retry_us) : 1ULL);
	if (!http_add_header(req, "Retry-After", num))
		return false;
	return errors_respond(req, EDGE_ERR_TOO_MANY_REQUESTS,
						  kind == RATE_LOGIN_IP || kind == RATE_LOGIN_USER ?
						  "too many login attempts; retry later" :
						  "too many requests; retry later");
}

/* --- Redis ------------------------------------------------------------------ */

static bool ratelimit_send(RateCheck *rc, bool eval, RedisCallDone done);

/* The script's reply into rc->verdict; false if it is not one. */
static bool
ratelimit_read_reply(RateCheck *rc, const redisReply *reply)
{
	long long	v[5];
	size_t		i;

	if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 5)
		return false;
	for (i = 0; i < 5; i++)
	{
		if (reply->element[i]->type != REDIS_REPLY_INTEGER)
			return false;
		v[i] = reply->element[i]->integer;
	}
	if (v[1] < 0 || v[1] >= rc->n || v[2] < 0 || v[3] < 0 || v[4] < 0)
		return false;
	rc->verdict.allowed = v[0] == 1;
	rc->verdict.which = (int) v[1];
	rc->verdict.retry_us = (uint64_t) v[2];
	rc->verdict.remaining = v[3] > UINT32_MAX ? UINT32_MAX : (uint32_t) v[3];
	rc->verdict.reset_us = (uint64_t) v[4];
	rc->verdict.limit = rc->buckets[v[1]].spec->burst;
	return true;
}

/* On the Redis thread: the script's reply (NULL: none came). */
static void
ratelimit_reply(void *arg, const redisReply *reply)
{
	RateCheck  *rc = arg;

	if (reply != NULL && reply->type == REDIS_REPLY_ERROR &&
		strncmp(reply->str, "NOSCRIPT", 8) == 0 && !rc->retried)
	{
		/* a Redis that restarted: send the script itself, once */
		rc->retried = true;
		if (ratelimit_send(rc, true, ratelimit_reply))
			return;
	}
	else if (reply != NULL)
	{
		rc->answered = ratelimit_read_reply(rc, reply);
		if (!rc->answered && !atomic_exchange(&ratelimit_odd_reply_logged, true))
			log_write(LOG_LEVEL_ERROR, "unexpected reply to the rate-limit script",
					  "{s:s}", "reply", reply->type == REDIS_REPLY_ERROR ?
					  reply->str : "not five integers");
	}
	http_resume(rc->req);		/* last: the request owns rc */
}

static bool
ratelimit_send(RateCheck *rc, bool eval, RedisCallDone done)
{
	const char *argv[RATELIMIT_ARGC_MAX];
	size_t		argvlen[RATELIMIT_ARGC_MAX];
	int			argc = 0;
	int			i;

	argv[argc++] = eval ? "EVAL" : "EVALSHA";
	argv[argc++] = eval ? ratelimit_script : ratelimit.sha;
	argv[argc++] = "1";
	argv[argc++] = RATELIMIT_SALT_KEY;
	argv[argc++] = ratelimit.salt;
	char		scaled[TOKENBUCKET_MAX][2][32];

	for (i = 0; i < rc->n; i++)
	{
		argv[argc++] = ratelimit_kind_names[rc->buckets[i].kind];
		argv[argc++] = rc->buckets[i].hex;
		/*
		 * count tokens at once: the script takes one "token" of count
		 * intervals from a bucket of burst / count of them, which is the
		 * same span of time
		 */
		snprintf(scaled[i][0], sizeof(scaled[i][0]), "%llu",
				 (unsigned long long) rc->buckets[i].spec->interval_us *
				 (rc->count > 1 ? rc->count : 1));
		if (rc->count > 1)
			snprintf(scaled[i][1], sizeof(scaled[i][1]), "%.6f",
					 (double) rc->buckets[i].spec->burst / rc->count);
		else
			snprintf(scaled[i][1], sizeof(scaled[i][1]), "%u", rc->buckets[i].spec->burst);
		argv[argc++] = scaled[i][0];
		argv[argc++] = scaled[i][1];
	}
	for (i = 0; i < argc; i++)
		argvlen[i] = strlen(argv[i]);
	return rediscall_send(argc, argv, argvlen, done, rc);
}

/* Resumed: Redis's verdict, or the table's when Redis had none. */
static bool
ratelimit_complete(HttpRequest *req)
{
	RateCheck  *rc = http_take_data(req, NULL);

	/* the caller's data goes back before anything else can run */
	http_set_data(req, rc->saved, rc->saved_free);
	rc->saved = NULL;
	if (!rc->answered)
		ratelimit_decide_locally(rc);
	return ratelimit_answer(req, rc);
}

static uint64_t
ratelimit_refused_key(const RateBucket *b)
{
	uint64_t	k;

	memcpy(&k, b->digest, sizeof(k));
	return k;
}

/* Lists slot i for the tick; lock held. */
static void
ratelimit_activate(int i)
{
	if (!ratelimit_pending[i].active)
	{
		ratelimit_pending[i].active = true;
		ratelimit_active[ratelimit_nactive++] = i;
	}
}

/* On the Redis thread: Redis's count of calls that did not wait for it. */
static void
ratelimit_counted(void *arg, const redisReply *reply)
{
	RateCheck  *rc = arg;
	bool		more = false;

	if (reply != NULL && reply->type == REDIS_REPLY_ERROR &&
		strncmp(reply->str, "NOSCRIPT", 8) == 0 && !rc->retried)
	{
		rc->retried = true;
		if (ratelimit_send(rc, true, ratelimit_counted))
			return;
	}
	pthread_mutex_lock(&ratelimit_local_lock);
	if (reply != NULL && ratelimit_read_reply(rc, reply) && !rc->verdict.allowed)
	{
		uint64_t	key = ratelimit_refused_key(&rc->buckets[rc->verdict.which]);
		int			slot = (int) (key % RATELIMIT_REFUSED_SLOTS);

		ratelimit_refused[slot].key = key;
		ratelimit_refused[slot].until_us = timeutil_mono_us() +
			(int64_t) (rc->verdict.retry_us > 0 ? rc->verdict.retry_us : 1000000);
		ratelimit_refused[slot].limit = rc->buckets[rc->verdict.which].spec->burst;
	}
	if (rc->slot >= 0 && ratelimit_pending[rc->slot].set == rc->set)
	{
		ratelimit_pending[rc->slot].in_flight = false;
		more = ratelimit_pending[rc->slot].pending > 0;
		if (more)
			ratelimit_activate(rc->slot);
	}
	pthread_mutex_unlock(&ratelimit_local_lock);
	/* the calls made while this one was out go with the next tick */
	if (more)
		rediscall_tick_soon();
	ratelimit_check_free(rc);
}

/* Sends rc's count of calls (rc is the callback's to free). */
static void
ratelimit_send_count(RateCheck *rc)
{
	if (ratelimit_send(rc, false, ratelimit_counted))
		return;
	if (rc->slot >= 0)
	{
		pthread_mutex_lock(&ratelimit_local_lock);
		if (ratelimit_pending[rc->slot].set == rc->set)
			ratelimit_pending[rc->slot].in_flight = false;
		pthread_mutex_unlock(&ratelimit_local_lock);
	}
	ratelimit_check_free(rc);
}

/*
 * The Redis thread's tick: each set's calls since its last count, in one
 * script call per set (none for a set whose last is still out).
 */
static bool
ratelimit_tick(void)
{
	static int	listed[RATELIMIT_PENDING_SLOTS];
	int			nlisted;
	bool		again = false;

	pthread_mutex_lock(&ratelimit_local_lock);
	nlisted = ratelimit_nactive;
	memcpy(listed, ratelimit_active, sizeof(int) * (size_t) nlisted);
	ratelimit_nactive = 0;
	for (int k = 0; k < nlisted; k++)
		ratelimit_pending[listed[k]].active = false;
	pthread_mutex_unlock(&ratelimit_local_lock);

	for (int k = 0; k < nlisted; k++)
	{
		int			i = listed[k];
		RateCheck  *rc = calloc(1, sizeof(*rc));

		pthread_mutex_lock(&ratelimit_local_lock);
		if (rc == NULL || ratelimit_pending[i].in_flight || ratelimit_pending[i].pending == 0)
		{
			/* still out, or no memory: listed again for a later tick */
			if (ratelimit_pending[i].pending > 0)
			{
				ratelimit_activate(i);
				again = true;
			}
			pthread_mutex_unlock(&ratelimit_local_lock);
			free(rc);
			continue;
		}
		rc->n = ratelimit_pending[i].n;
		memcpy(rc->buckets, ratelimit_pending[i].buckets, sizeof(rc->buckets));
		rc->count = ratelimit_pending[i].pending;
		rc->set = ratelimit_pending[i].set;
		rc->slot = i;
		ratelimit_pending[i].pending = 0;
		ratelimit_pending[i].in_flight = true;
		pthread_mutex_unlock(&ratelimit_local_lock);
		ratelimit_send_count(rc);
	}
	return again;
}

/*
 * An allowed no-wait call, counted for Redis: into its set's slot for the
 * tick, or, when another set holds the slot, sent alone now.
 */
static void
ratelimit_count(const RateCheck *rc)
{
	uint64_t	set = 0;
	int			slot;
	bool		counted = false;
	RateCheck  *alone;

	/* the set of buckets: their digests' first bytes, mixed */
	for (int i = 0; i < rc->n; i++)
		set = set * UINT64_C(0x9e3779b97f4a7c15) + ratelimit_refused_key(&rc->buckets[i]);
	slot = (int) (set % RATELIMIT_PENDING_SLOTS);
	pthread_mutex_lock(&ratelimit_local_lock);
	if (ratelimit_pending[slot].set != set && !ratelimit_pending[slot].in_flight &&
		ratelimit_pending[slot].pending == 0)
	{
		ratelimit_pending[slot].set = set;
		ratelimit_pending[slot].n = rc->n;
		memcpy(ratelimit_pending[slot].buckets, rc->buckets, sizeof(rc->buckets));
	}
	if (ratelimit_pending[slot].set == set)
	{
		if (ratelimit_pending[slot].pending++ == 0)
			ratelimit_activate(slot);
		counted = true;
	}
	pthread_mutex_unlock(&ratelimit_local_lock);
	if (counted)
	{
		rediscall_tick_soon();
		return;
	}
	alone = malloc(sizeof(*alone));
	if (alone == NULL)
		return;
	*alone = *rc;
	alone->saved = NULL;
	alone->req = NULL;
	alone->count = 1;
	alone->retried = false;
	alone->slot = -1;
	ratelimit_send_count(alone);
}

/*
 * A check that does not wait for Redis: a bucket Redis refused lately is
 * refused here; else the edge's own buckets decide, and the call is
 * counted in Redis meanwhile (rc goes with it).
 */
static bool
ratelimit_nowait(HttpRequest *req, RateCheck *rc)
{
	int64_t		now = timeutil_mono_us();
	int			i;

	pthread_mutex_lock(&ratelimit_local_lock);
	for (i = 0; i < rc->n; i++)
	{
		uint64_t	key = ratelimit_refused_key(&rc->buckets[i]);
		int			slot = (int) (key % RATELIMIT_REFUSED_SLOTS);

		if (ratelimit_refused[slot].key == key && ratelimit_refused[slot].until_us > now)
		{
			rc->verdict = (TokenBucketVerdict) {
				.allowed = false, .which = i, .limit = ratelimit_refused[slot].limit,
				.remaining = 0,
				.retry_us = (uint64_t) (ratelimit_refused[slot].until_us - now),
				.reset_us = (uint64_t) (ratelimit_refused[slot].until_us - now)
			};
			pthread_mutex_unlock(&ratelimit_local_lock);
			return ratelimit_answer(req, rc);
		}
	}
	pthread_mutex_unlock(&ratelimit_local_lock);
	ratelimit_decide_locally(rc);
	if (rc->verdict.allowed && rediscall_up())
		ratelimit_count(rc);
	return ratelimit_answer(req, rc);
}

bool
ratelimit_check(HttpRequest *req, unsigned limits, const char *name,
				HttpHandler next)
{
	RateCheck  *rc = calloc(1, sizeof(*rc));
	char		client[IPADDR_TEXT_MAX];
	bool		ok = rc != NULL;

	if (!ok)
		return false;
	rc->req = req;
	rc->next = next;
	if (limits & (RATELIMIT_CLIENT | RATELIMIT_LOGIN))
		ratelimit_client_key(req, client);
	if (ok && (limits & RATELIMIT_CLIENT))
		ok = ratelimit_add(rc, RATE_IP, &ratelimit.ip, client);
	if (ok && (limits & RATELIMIT_PRINCIPAL))
		ok = ratelimit_add(rc, RATE_PRINCIPAL, &ratelimit.principal, name);
	if (ok && (limits & RATELIMIT_LOGIN))
		ok = ratelimit_add(rc, RATE_LOGIN_IP, &ratelimit.login_ip, client) &&
			ratelimit_add(rc, RATE_LOGIN_USER, &ratelimit.login, name);
	if (!ok)
	{
		ratelimit_check_free(rc);
		return errors_respond(req, EDGE_ERR_INTERNAL, NULL);
	}
	if (rc->n == 0)
	{
		ratelimit_check_free(rc);
		return next(req);
	}
	if (limits & RATELIMIT_NOWAIT)
		return ratelimit_nowait(req, rc);
	if (!rediscall_up())
	{
		ratelimit_decide_locally(rc);
		return ratelimit_answer(req, rc);
	}

	/* the caller's data is kept aside; rc rides in its place */
	rc->saved = http_take_data(req, &rc->saved_free);
	http_set_data(req, rc, ratelimit_check_free);
	http_suspend(req, ratelimit_complete);
	if (!ratelimit_send(rc, false, ratelimit_reply))
		http_resume(req);		/* Redis went away: decided in process */
	return true;
}

void
ratelimit_stats(RateLimitStats *stats)
{
	stats->limited_ip = atomic_load(&ratelimit_limited[RATE_IP]);
	stats->limited_principal = atomic_load(&ratelimit_limited[RATE_PRINCIPAL]);
	stats->limited_login_ip = atomic_load(&ratelimit_limited[RATE_LOGIN_IP]);
	stats->limited_login_user = atomic_load(&ratelimit_limited[RATE_LOGIN_USER]);
	stats->local = atomic_load(&ratelimit_local_count);
}
