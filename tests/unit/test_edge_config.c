/*
 * test_edge_config.c
 *		Table-driven tests of edge/config.c: the integer, listen-address and
 *		Redis URL parsers, and config_load() over a fake environment.
 *
 * Built alone with edge/config.c (no libmicrohttpd, libpq or hiredis), under
 * AddressSanitizer and UBSan. Each row names itself in its failure message.
 */
#include "unit.h"

#include <limits.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "config.h"

/* --- integers ------------------------------------------------------------ */

typedef struct int_case
{
	const char *name;
	const char *text;
	long		min;
	long		max;
	bool		ok;
	long		want;
} int_case;

static const int_case int_cases[] = {
	{"zero", "0", 0, 10, true, 0},
	{"in range", "7", 0, 10, true, 7},
	{"at max", "10", 0, 10, true, 10},
	{"at min", "100", 100, 200, true, 100},
	{"negative allowed", "-5", -10, 10, true, -5},
	{"leading zeros", "007", 0, 10, true, 7},
	{"above max", "11", 0, 10, false, 0},
	{"below min", "99", 100, 200, false, 0},
	{"negative refused", "-1", 0, 1024, false, 0},
	{"empty", "", 0, 10, false, 0},
	{"minus only", "-", 0, 10, false, 0},
	{"plus sign", "+5", 0, 10, false, 0},
	{"leading blank", " 5", 0, 10, false, 0},
	{"trailing blank", "5 ", 0, 10, false, 0},
	{"trailing unit", "100ms", 0, 1000, false, 0},
	{"hex", "0x10", 0, 100, false, 0},
	{"decimal point", "1.5", 0, 10, false, 0},
	{"overflow", "99999999999999999999999", 0, LONG_MAX, false, 0},
	{"long max", "9223372036854775807", 0, LONG_MAX, true, LONG_MAX},
};

static void
test_int(void)
{
	char		err[CONFIG_ERROR_MAX];
	const int_case *c;
	long		got;
	bool		ok;
	size_t		i;

	for (i = 0; i < sizeof(int_cases) / sizeof(int_cases[0]); i++)
	{
		c = &int_cases[i];
		got = -12345;
		err[0] = '\0';
		ok = config_parse_int(c->text, c->min, c->max, &got, err, sizeof(err));
		UNIT_CHECK(ok == c->ok, "int \"%s\": ok=%d, want %d (%s)",
				   c->name, ok, c->ok, err);
		if (ok && c->ok)
			UNIT_CHECK(got == c->want, "int \"%s\": got %ld, want %ld",
					   c->name, got, c->want);
		if (!ok)
		{
			UNIT_CHECK(err[0] != '\0', "int \"%s\": no error message",
					   c->name);
			UNIT_CHECK(got == -12345, "int \"%s\": output written on failure",
					   c->name);
		}
	}
}

/* --- listen addresses ---------------------------------------------------- */

typedef struct listen_case
{
	const char *name;
	const char *text;
	bool		ok;
	const char *host;
	int			port;
} listen_case;

static const listen_case listen_cases[] = {
	{"ipv4", "127.0.0.1:8080", true, "127.0.0.1", 8080},
	{"any ipv4", "0.0.0.0:80", true, "0.0.0.0", 80},
	{"host name", "localhost:8080", true, "localhost", 8080},
	{"ephemeral port", "127.0.0.1:0", true, "127.0.0.1", 0},
	{"max port", "127.0.0.1:65535", true, "127.0.0.1", 65535},
	{"ipv6 loopback", "[::1]:8080", true, "::1", 8080},
	{"ipv6 any", "[::]:443", true, "::", 443},
	{"ipv6 mapped", "[::ffff:127.0.0.1]:1", true, "::ffff:127.0.0.1", 1},
	{"ipv6 zone", "[fe80::1%eth0]:80", true, "fe80::1%eth0", 80},
	{"nonsense", "nonsense", false, NULL, 0},
	{"empty", "", false, NULL, 0},
	{"port only", ":8080", false, NULL, 0},
	{"no port", "127.0.0.1", false, NULL, 0},
	{"empty port", "127.0.0.1:", false, NULL, 0},
	{"port too big", "127.0.0.1:65536", false, NULL, 0},
	{"port huge", "127.0.0.1:99999999999", false, NULL, 0},
	{"negative port", "127.0.0.1:-1", false, NULL, 0},
	{"port with blank", "127.0.0.1: 80", false, NULL, 0},
	{"port with junk", "127.0.0.1:80x", false, NULL, 0},
	{"bare ipv6", "::1:8080", false, NULL, 0},
	{"ipv6 without port", "[::1]", false, NULL, 0},
	{"ipv6 unclosed", "[::1:8080", false, NULL, 0},
	{"ipv6 junk after bracket", "[::1]x:80", false, NULL, 0},
	{"ipv6 empty", "[]:80", false, NULL, 0},
	{"ipv6 not an address", "[abc]:80", false, NULL, 0},
	{"blank in host", "local host:80", false, NULL, 0},
	{"scheme", "http://127.0.0.1:80", false, NULL, 0},
	{"path", "127.0.0.1:80/x", false, NULL, 0},
};

static void
test_listen(void)
{
	char		err[CONFIG_ERROR_MAX];
	const listen_case *c;
	ListenAddr	got;
	bool		ok;
	size_t		i;

	for (i = 0; i < sizeof(listen_cases) / sizeof(listen_cases[0]); i++)
	{
		c = &listen_cases[i];
		memset(&got, 0x5a, sizeof(got));
		err[0] = '\0';
		ok = config_parse_listen(c->text, &got, err, sizeof(err));
		UNIT_CHECK(ok == c->ok, "listen \"%s\" (%s): ok=%d, want %d (%s)",
				   c->name, c->text, ok, c->ok, err);
		if (ok && c->ok)
		{
			UNIT_CHECK(strcmp(got.host, c->host) == 0,
					   "listen \"%s\": host \"%s\", want \"%s\"",
					   c->name, got.host, c->host);
			UNIT_CHECK(got.port == c->port, "listen \"%s\": port %d, want %d",
					   c->name, got.port, c->port);
		}
		if (!ok)
			UNIT_CHECK(err[0] != '\0', "listen \"%s\": no error message",
					   c->name);
	}
}

/* --- Redis URLs ---------------------------------------------------------- */

typedef struct redis_case
{
	const char *name;
	const char *text;
	bool		ok;
	const char *host;
	int			port;
	const char *user;			/* NULL: none */
	const char *password;		/* NULL: none */
	int			db;
} redis_case;

static const redis_case redis_cases[] = {
	{"default", "redis://127.0.0.1:6379", true,
	"127.0.0.1", 6379, NULL, NULL, 0},
	{"default port", "redis://cache", true, "cache", 6379, NULL, NULL, 0},
	{"upper-case scheme", "REDIS://cache:1", true, "cache", 1, NULL, NULL, 0},
	{"db", "redis://h:7000/3", true, "h", 7000, NULL, NULL, 3},
	{"empty db", "redis://h:7000/", true, "h", 7000, NULL, NULL, 0},
	{"password only", "redis://:s3cret@h", true, "h", 6379, NULL, "s3cret", 0},
	{"user and password", "redis://alice:s3cret@h:1/2", true,
	"h", 1, "alice", "s3cret", 2},
	{"encoded password", "redis://:p%40ss%2Fw%3Ad%3F%23@h", true,
	"h", 6379, NULL, "p@ss/w:d?#", 0},
	{"raw at in password", "redis://:p@ss@h", true, "h", 6379, NULL, "p@ss", 0},
	{"colon in password", "redis://u:a:b@h", true, "h", 6379, "u", "a:b", 0},
	{"ipv6", "redis://[::1]:6380/1", true, "::1", 6380, NULL, NULL, 1},
	{"ipv6 default port", "redis://[::1]", true, "::1", 6379, NULL, NULL, 0},
	{"http scheme", "http://x", false, NULL, 0, NULL, NULL, 0},
	{"tls scheme", "rediss://h", true, "h", 6379, NULL, NULL, 0},
	{"tls with everything", "REDISS://u:s3cret@cache.internal:6380/2", true,
	"cache.internal", 6380, "u", "s3cret", 2},
	{"tls scheme only", "rediss://", false, NULL, 0, NULL, NULL, 0},
	{"one s too many", "redisss://h", false, NULL, 0, NULL, NULL, 0},
	{"no scheme", "127.0.0.1:6379", false, NULL, 0, NULL, NULL, 0},
	{"empty", "", false, NULL, 0, NULL, NULL, 0},
	{"scheme only", "redis://", false, NULL, 0, NULL, NULL, 0},
	{"no host", "redis://:6379", false, NULL, 0, NULL, NULL, 0},
	{"no host after credentials", "redis://:pw@", false,
	NULL, 0, NULL, NULL, 0},
	{"port zero", "redis://h:0", false, NULL, 0, NULL, NULL, 0},
	{"port too big", "redis://h:70000", false, NULL, 0, NULL, NULL, 0},
	{"empty port", "redis://h:", false, NULL, 0, NULL, NULL, 0},
	{"port not a number", "redis://h:abc", false, NULL, 0, NULL, NULL, 0},
	{"password without at", "redis://:s3cret", false, NULL, 0, NULL, NULL, 0},
	{"user without colon", "redis://alice@h", false, NULL, 0, NULL, NULL, 0},
	{"empty password", "redis://alice:@h", false, NULL, 0, NULL, NULL, 0},
	{"bad escape", "redis://:a%zz@h", false, NULL, 0, NULL, NULL, 0},
	{"short escape", "redis://:a%4@h", false, NULL, 0, NULL, NULL, 0},
	{"nul escape", "redis://:a%00b@h", false, NULL, 0, NULL, NULL, 0},
	{"blank in password", "redis://:a b@h", false, NULL, 0, NULL, NULL, 0},
	{"db not a number", "redis://h/x", false, NULL, 0, NULL, NULL, 0},
	{"negative db", "redis://h/-1", false, NULL, 0, NULL, NULL, 0},
	{"db with path", "redis://h/1/2", false, NULL, 0, NULL, NULL, 0},
	{"db overflow", "redis://h/99999999999", false, NULL, 0, NULL, NULL, 0},
	{"query", "redis://h/0?timeout=1", false, NULL, 0, NULL, NULL, 0},
	{"fragment", "redis://h#x", false, NULL, 0, NULL, NULL, 0},
	{"bare ipv6", "redis://::1:6379", false, NULL, 0, NULL, NULL, 0},
	{"blank in host", "redis://a b", false, NULL, 0, NULL, NULL, 0},
};

static void
test_redis(void)
{
	char		err[CONFIG_ERROR_MAX];
	const redis_case *c;
	RedisUrl	got;
	bool		ok;
	size_t		i;

	for (i = 0; i < sizeof(redis_cases) / sizeof(redis_cases[0]); i++)
	{
		c = &redis_cases[i];
		memset(&got, 0x5a, sizeof(got));
		err[0] = '\0';
		ok = config_parse_redis_url(c->text, &got, err, sizeof(err));
		UNIT_CHECK(ok == c->ok, "redis \"%s\": ok=%d, want %d (%s)",
				   c->name, ok, c->ok, err);
		if (!ok)
		{
			UNIT_CHECK(err[0] != '\0', "redis \"%s\": no error message",
					   c->name);
			/* a mistyped URL must not put its password into a log */
			UNIT_CHECK(strstr(err, "s3cret") == NULL,
					   "redis \"%s\": message quotes the password: %s",
					   c->name, err);
			continue;
		}
		if (!c->ok)
			continue;
		UNIT_CHECK(strcmp(got.host, c->host) == 0,
				   "redis \"%s\": host \"%s\", want \"%s\"",
				   c->name, got.host, c->host);
		UNIT_CHECK(got.tls == (strncasecmp(c->text, "rediss:", 7) == 0),
				   "redis \"%s\": tls %d", c->name, got.tls);
		UNIT_CHECK(got.tunnel_host[0] == '\0' && got.tunnel_port == 0,
				   "redis \"%s\": a tunnel before WARDEN_REDIS_TLS_TUNNEL", c->name);
		UNIT_CHECK(got.port == c->port, "redis \"%s\": port %d, want %d",
				   c->name, got.port, c->port);
		UNIT_CHECK(got.db == c->db, "redis \"%s\": db %d, want %d",
				   c->name, got.db, c->db);
		UNIT_CHECK(got.has_user == (c->user != NULL),
				   "redis \"%s\": has_user %d", c->name, got.has_user);
		if (c->user != NULL && got.has_user)
			UNIT_CHECK(strcmp(got.user, c->user) == 0,
					   "redis \"%s\": user \"%s\", want \"%s\"",
					   c->name, got.user, c->user);
		UNIT_CHECK(got.has_password == (c->password != NULL),
				   "redis \"%s\": has_password %d", c->name, got.has_password);
		if (c->password != NULL && got.has_password)
			UNIT_CHECK(strcmp(got.password, c->password) == 0,
					   "redis \"%s\": password differs", c->name);
	}
}

/* A password as long as allowed, and one byte longer. */
static void
test_redis_lengths(void)
{
	char		url[CONFIG_CREDENTIAL_MAX + 64];
	char		err[CONFIG_ERROR_MAX];
	RedisUrl	got;
	size_t		n;

	strcpy(url, "redis://:");
	n = strlen(url);
	memset(url + n, 'p', CONFIG_CREDENTIAL_MAX);
	strcpy(url + n + CONFIG_CREDENTIAL_MAX, "@h");
	UNIT_CHECK(config_parse_redis_url(url, &got, err, sizeof(err)),
			   "redis longest password refused: %s", err);
	UNIT_CHECK(strlen(got.password) == CONFIG_CREDENTIAL_MAX,
			   "redis longest password: length %zu", strlen(got.password));

	memset(url + n, 'p', CONFIG_CREDENTIAL_MAX + 1);
	strcpy(url + n + CONFIG_CREDENTIAL_MAX + 1, "@h");
	UNIT_CHECK(!config_parse_redis_url(url, &got, err, sizeof(err)),
			   "redis password one byte too long accepted");
}

/* --- WARDEN_REDIS_TLS_TUNNEL ------------------------------------------------ */

typedef struct tunnel_case
{
	const char *name;
	const char *text;
	bool		ok;
	const char *host;
	int			port;
} tunnel_case;

static const tunnel_case tunnel_cases[] = {
	{"empty: none", "", true, "", 0},
	{"ipv4 loopback", "127.0.0.1:6380", true, "127.0.0.1", 6380},
	{"all of 127/8", "127.10.20.30:1", true, "127.10.20.30", 1},
	{"ipv6 loopback", "[::1]:16379", true, "::1", 16379},
	{"no port", "127.0.0.1", false, NULL, 0},
	{"port zero", "127.0.0.1:0", false, NULL, 0},
	{"a name", "localhost:6380", false, NULL, 0},
	{"another address", "10.0.0.5:6380", false, NULL, 0},
	{"any address", "0.0.0.0:6380", false, NULL, 0},
	{"ipv6 any", "[::]:6380", false, NULL, 0},
	{"mapped loopback", "[::ffff:127.0.0.1]:6380", true, "::ffff:127.0.0.1", 6380},
	{"a URL", "redis://127.0.0.1:6380", false, NULL, 0},
	{"leading zeros", "127.000.0.1:6380", false, NULL, 0},
};

static void
test_redis_tunnel(void)
{
	char		err[CONFIG_ERROR_MAX];
	const tunnel_case *c;
	ListenAddr	got;
	bool		ok;
	size_t		i;

	for (i = 0; i < sizeof(tunnel_cases) / sizeof(tunnel_cases[0]); i++)
	{
		c = &tunnel_cases[i];
		memset(&got, 0x5a, sizeof(got));
		err[0] = '\0';
		ok = config_parse_redis_tunnel(c->text, &got, err, sizeof(err));
		UNIT_CHECK(ok == c->ok, "tunnel \"%s\": ok=%d, want %d (%s)",
				   c->name, ok, c->ok, err);
		if (!ok)
		{
			UNIT_CHECK(err[0] != '\0', "tunnel \"%s\": no error message", c->name);
			continue;
		}
		UNIT_CHECK(strcmp(got.host, c->host) == 0 && got.port == c->port,
				   "tunnel \"%s\": %s:%d, want %s:%d", c->name, got.host,
				   got.port, c->host, c->port);
	}
}

/* --- config_load over a fake environment --------------------------------- */

typedef struct env_var
{
	const char *name;
	const char *value;
} env_var;

typedef struct load_case
{
	const char *name;
	env_var		env[3];
	bool		ok;
	const char *err_has;		/* substring of the error message */
	const char *err_lacks;		/* must not appear in it */
} load_case;

static const load_case load_cases[] = {
	{"defaults", {{NULL, NULL}}, true, NULL, NULL},
	{"all valid", {{"WARDEN_THREADS", "4"}, {"WARDEN_LOG_LEVEL", "DEBUG"},
	{"WARDEN_LISTEN", "[::1]:0"}}, true, NULL, NULL},
	{"listen nonsense", {{"WARDEN_LISTEN", "nonsense"}}, false,
	"WARDEN_LISTEN", NULL},
	{"redis http", {{"WARDEN_REDIS_URL", "http://x"}}, false,
	"WARDEN_REDIS_URL", NULL},
	{"redis secret not echoed",
	{{"WARDEN_REDIS_URL", "redis://:s3cret@h:notaport"}}, false,
	"WARDEN_REDIS_URL", "s3cret"},
	{"threads negative", {{"WARDEN_THREADS", "-1"}}, false,
	"WARDEN_THREADS", NULL},
	{"threads too many", {{"WARDEN_THREADS", "5000"}}, false,
	"WARDEN_THREADS", NULL},
	{"interval below min", {{"WARDEN_HEALTH_INTERVAL_MS", "99"}}, false,
	"WARDEN_HEALTH_INTERVAL_MS", NULL},
	{"timeout not a number", {{"WARDEN_HEALTH_TIMEOUT_MS", "2s"}}, false,
	"WARDEN_HEALTH_TIMEOUT_MS", NULL},
	{"drain zero", {{"WARDEN_DRAIN_TIMEOUT_MS", "0"}}, true, NULL, NULL},
	{"level unknown", {{"WARDEN_LOG_LEVEL", "verbose"}}, false,
	"WARDEN_LOG_LEVEL", NULL},
	{"empty value", {{"WARDEN_THREADS", ""}}, false, "WARDEN_THREADS", NULL},
	{"database url not echoed",
	{{"WARDEN_DATABASE_URL", ""}}, false, "WARDEN_DATABASE_URL", NULL},
	{"tls files may be empty", {{"WARDEN_TLS_CERT_FILE", ""}, {"WARDEN_TLS_KEY_FILE", ""}},
	true, NULL, NULL},
	{"tls 1.2 allowed", {{"WARDEN_TLS_MIN_VERSION", "1.2"}}, true, NULL, NULL},
	{"tls 1.1 refused", {{"WARDEN_TLS_MIN_VERSION", "1.1"}}, false,
	"WARDEN_TLS_MIN_VERSION", NULL},
	{"pool too large", {{"WARDEN_DB_POOL_SIZE", "101"}}, false, "WARDEN_DB_POOL_SIZE", NULL},
	{"db timeout below min", {{"WARDEN_DB_TIMEOUT_MS", "50"}}, false, "WARDEN_DB_TIMEOUT_MS", NULL},
	{"redis timeout below min", {{"WARDEN_REDIS_TIMEOUT_MS", "4"}}, false,
	"WARDEN_REDIS_TIMEOUT_MS", NULL},
	{"rate limits valid", {{"WARDEN_RATE_LIMIT_IP", "20/s,burst=40"},
		{"WARDEN_RATE_LIMIT_LOGIN", "3/min"}, {"WARDEN_RATE_LIMIT_PRINCIPAL", "off"}},
	true, NULL, NULL},
	{"rate limit unit unknown", {{"WARDEN_RATE_LIMIT_IP", "20/week"}}, false,
	"WARDEN_RATE_LIMIT_IP", NULL},
	{"rate limit empty", {{"WARDEN_RATE_LIMIT_LOGIN", ""}}, false,
	"WARDEN_RATE_LIMIT_LOGIN", NULL},
	{"login ip limit burst zero", {{"WARDEN_RATE_LIMIT_LOGIN_IP", "5/min,burst=0"}}, false,
	"WARDEN_RATE_LIMIT_LOGIN_IP", NULL},
	{"principal limit nonsense", {{"WARDEN_RATE_LIMIT_PRINCIPAL", "lots"}}, false,
	"WARDEN_RATE_LIMIT_PRINCIPAL", NULL},
	{"trusted proxies valid", {{"WARDEN_TRUSTED_PROXIES", "10.0.0.0/8, ::1"}}, true, NULL, NULL},
	{"trusted proxies may be empty", {{"WARDEN_TRUSTED_PROXIES", ""}}, true, NULL, NULL},
	{"trusted proxies host bits", {{"WARDEN_TRUSTED_PROXIES", "10.0.0.1/8"}}, false,
	"WARDEN_TRUSTED_PROXIES", "host bits"},
	{"trusted proxies by name", {{"WARDEN_TRUSTED_PROXIES", "proxy.local"}}, false,
	"WARDEN_TRUSTED_PROXIES", NULL},
	{"api schema", {{"WARDEN_API_SCHEMA", "public_api2"}}, true, NULL, NULL},
	{"api schema qualified", {{"WARDEN_API_SCHEMA", "a.b"}}, false, "WARDEN_API_SCHEMA", NULL},
	{"api schema upper case", {{"WARDEN_API_SCHEMA", "Api"}}, false, "WARDEN_API_SCHEMA", NULL},
	{"api schema quoted", {{"WARDEN_API_SCHEMA", "\"api\""}}, false, "WARDEN_API_SCHEMA", NULL},
	{"api schema empty", {{"WARDEN_API_SCHEMA", ""}}, false, "WARDEN_API_SCHEMA", NULL},
	{"api schema pg_catalog", {{"WARDEN_API_SCHEMA", "pg_catalog"}}, false, "WARDEN_API_SCHEMA", NULL},
	{"api schema pg_temp", {{"WARDEN_API_SCHEMA", "pg_temp"}}, false, "WARDEN_API_SCHEMA", NULL},
	{"api schema warden", {{"WARDEN_API_SCHEMA", "warden"}}, false, "WARDEN_API_SCHEMA", NULL},
	{"api schema information_schema", {{"WARDEN_API_SCHEMA", "information_schema"}}, false,
	"WARDEN_API_SCHEMA", NULL},
	{"api schema 64 characters", {{"WARDEN_API_SCHEMA",
	"abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijkl"}}, false, "WARDEN_API_SCHEMA", NULL},
	{"db role", {{"WARDEN_DB_ROLE", "web_anon"}}, true, NULL, NULL},
	{"db role any spelling", {{"WARDEN_DB_ROLE", "App User-1"}}, true, NULL, NULL},
	{"db role empty: rpc off", {{"WARDEN_DB_ROLE", ""}}, true, NULL, NULL},
	{"db role none", {{"WARDEN_DB_ROLE", "NONE"}}, false, "WARDEN_DB_ROLE", NULL},
	{"db role control character", {{"WARDEN_DB_ROLE", "a\nb"}}, false, "WARDEN_DB_ROLE", NULL},
	{"db role 64 bytes", {{"WARDEN_DB_ROLE",
	"abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijkl"}}, false, "WARDEN_DB_ROLE", NULL},
	{"rpc cache ttl zero", {{"WARDEN_RPC_CACHE_TTL_MS", "0"}}, true, NULL, NULL},
	{"rpc cache ttl negative", {{"WARDEN_RPC_CACHE_TTL_MS", "-1"}}, false, "WARDEN_RPC_CACHE_TTL_MS", NULL},
	{"rpc cache ttl too long", {{"WARDEN_RPC_CACHE_TTL_MS", "3600001"}}, false,
	"WARDEN_RPC_CACHE_TTL_MS", NULL},
	{"rediss without a tunnel", {{"WARDEN_REDIS_URL", "rediss://:s3cret@cache:6380"}}, false,
	"needs WARDEN_REDIS_TLS_TUNNEL", "s3cret"},
	{"rediss with a tunnel", {{"WARDEN_REDIS_URL", "rediss://cache:6380"},
		{"WARDEN_REDIS_TLS_TUNNEL", "127.0.0.1:16380"}}, true, NULL, NULL},
	{"a tunnel with redis://", {{"WARDEN_REDIS_URL", "redis://:s3cret@cache:6379"},
		{"WARDEN_REDIS_TLS_TUNNEL", "127.0.0.1:16380"}}, false,
	"WARDEN_REDIS_TLS_TUNNEL: set only with a rediss://", "s3cret"},
	{"a tunnel with the default URL", {{"WARDEN_REDIS_TLS_TUNNEL", "127.0.0.1:16380"}}, false,
	"WARDEN_REDIS_TLS_TUNNEL", NULL},
	{"a tunnel elsewhere", {{"WARDEN_REDIS_URL", "rediss://cache:6380"},
		{"WARDEN_REDIS_TLS_TUNNEL", "10.1.2.3:6380"}}, false,
	"WARDEN_REDIS_TLS_TUNNEL: must be a loopback address", NULL},
	{"a tunnel by name", {{"WARDEN_REDIS_URL", "rediss://cache:6380"},
		{"WARDEN_REDIS_TLS_TUNNEL", "localhost:6380"}}, false,
	"WARDEN_REDIS_TLS_TUNNEL", NULL},
};

static const char *
fake_lookup(const char *name, void *arg)
{
	const env_var *env = arg;
	int			i;

	for (i = 0; i < 3 && env[i].name != NULL; i++)
	{
		if (strcmp(env[i].name, name) == 0)
			return env[i].value;
	}
	return NULL;
}

/* rediss:// goes to the tunnel, redis:// never does. */
static void
test_redis_tls_load(void)
{
	char		err[CONFIG_ERROR_MAX];
	EdgeConfig	cfg;
	env_var		tls[3] = {{"WARDEN_REDIS_URL", "rediss://:s3cret@cache.internal:6380/1"},
	{"WARDEN_REDIS_TLS_TUNNEL", "127.0.0.1:16380"}, {NULL, NULL}};
	env_var		plain[3] = {{"WARDEN_REDIS_URL", "redis://cache.internal:6379"}, {NULL, NULL}};

	UNIT_CHECK(config_load(&cfg, fake_lookup, tls, err, sizeof(err)),
			   "rediss:// with a tunnel refused: %s", err);
	UNIT_CHECK(cfg.redis.tls && strcmp(cfg.redis.tunnel_host, "127.0.0.1") == 0 &&
			   cfg.redis.tunnel_port == 16380,
			   "rediss://: tunnel %s:%d", cfg.redis.tunnel_host, cfg.redis.tunnel_port);
	UNIT_CHECK(strcmp(cfg.redis.host, "cache.internal") == 0 && cfg.redis.port == 6380 &&
			   cfg.redis.db == 1 && strcmp(cfg.redis.password, "s3cret") == 0,
			   "rediss://: the URL's server, database or password lost");
	UNIT_CHECK(config_load(&cfg, fake_lookup, plain, err, sizeof(err)),
			   "redis:// refused: %s", err);
	UNIT_CHECK(!cfg.redis.tls && cfg.redis.tunnel_host[0] == '\0',
			   "redis:// has a tunnel");
}

static void
test_load(void)
{
	char		err[CONFIG_ERROR_MAX];
	const load_case *c;
	EdgeConfig	cfg;
	bool		ok;
	size_t		i;

	for (i = 0; i < sizeof(load_cases) / sizeof(load_cases[0]); i++)
	{
		c = &load_cases[i];
		err[0] = '\0';
		ok = config_load(&cfg, fake_lookup, (void *) c->env, err, sizeof(err));
		UNIT_CHECK(ok == c->ok, "load \"%s\": ok=%d, want %d (%s)",
				   c->name, ok, c->ok, err);
		if (c->err_has != NULL)
			UNIT_CHECK(strstr(err, c->err_has) != NULL,
					   "load \"%s\": message lacks \"%s\": %s",
					   c->name, c->err_has, err);
		if (c->err_lacks != NULL)
			UNIT_CHECK(strstr(err, c->err_lacks) == NULL,
					   "load \"%s\": message has \"%s\": %s",
					   c->name, c->err_lacks, err);
	}

	/* the defaults land where the edge reads them */
	ok = config_load(&cfg, fake_lookup, (void *) load_cases[0].env,
					 err, sizeof(err));
	UNIT_CHECK(ok, "defaults: %s", err);
	UNIT_CHECK(strcmp(cfg.listen_addr.host, "127.0.0.1") == 0 &&
			   cfg.listen_addr.port == 8080, "defaults: listen %s:%d",
			   cfg.listen_addr.host, cfg.listen_addr.port);
	UNIT_CHECK(strcmp(cfg.database_url,
					  "postgresql://127.0.0.1:5432/postgres") == 0,
			   "defaults: database url %s", cfg.database_url);
	UNIT_CHECK(strcmp(cfg.redis.host, "127.0.0.1") == 0 &&
			   cfg.redis.port == 6379 && cfg.redis.db == 0 &&
			   !cfg.redis.has_password, "defaults: redis");
	UNIT_CHECK(cfg.threads == 0, "defaults: threads %d", cfg.threads);
	UNIT_CHECK(cfg.health_interval_ms == 1000 &&
			   cfg.health_timeout_ms == 2000 &&
			   cfg.drain_timeout_ms == 25000, "defaults: timings");
	UNIT_CHECK(strcmp(config_log_level_names[cfg.log_level], "info") == 0,
			   "defaults: log level %d", cfg.log_level);
	UNIT_CHECK(cfg.redis_timeout_ms == 100, "defaults: redis timeout %d", cfg.redis_timeout_ms);
	UNIT_CHECK(cfg.rate_limit_ip.enabled && cfg.rate_limit_ip.count == 100 &&
			   cfg.rate_limit_ip.period_us == 1000000 && cfg.rate_limit_ip.burst == 200,
			   "defaults: ip limit");
	UNIT_CHECK(cfg.rate_limit_principal.enabled && cfg.rate_limit_principal.count == 50 &&
			   cfg.rate_limit_principal.burst == 100, "defaults: principal limit");
	UNIT_CHECK(cfg.rate_limit_login.enabled && cfg.rate_limit_login.count == 5 &&
			   cfg.rate_limit_login.period_us == 60000000ULL && cfg.rate_limit_login.burst == 10,
			   "defaults: login limit");
	UNIT_CHECK(cfg.rate_limit_login_ip.enabled && cfg.rate_limit_login_ip.count == 20 &&
			   cfg.rate_limit_login_ip.burst == 40, "defaults: login ip limit");
	UNIT_CHECK(cfg.trusted_proxies.n == 0 && strcmp(cfg.trusted_proxies_text, "") == 0,
			   "defaults: no trusted proxies");
	UNIT_CHECK(strcmp(cfg.api_schema, "api") == 0 && strcmp(cfg.db_role, "") == 0 &&
			   cfg.rpc_cache_ttl_ms == 10000, "defaults: rpc settings");

	ok = config_load(&cfg, fake_lookup, (void *) load_cases[1].env,
					 err, sizeof(err));
	UNIT_CHECK(ok && cfg.threads == 4 && cfg.listen_addr.port == 0 &&
			   strcmp(cfg.listen_addr.host, "::1") == 0 &&
			   strcmp(config_log_level_names[cfg.log_level], "debug") == 0,
			   "all valid: values not stored");

	/* the rate-limit row: values land in the parsed structs */
	{
		size_t		k;

		for (k = 0; k < sizeof(load_cases) / sizeof(load_cases[0]); k++)
			if (strcmp(load_cases[k].name, "rate limits valid") == 0)
				break;
		ok = k < sizeof(load_cases) / sizeof(load_cases[0]) &&
			config_load(&cfg, fake_lookup, (void *) load_cases[k].env, err, sizeof(err));
		UNIT_CHECK(ok && cfg.rate_limit_ip.count == 20 && cfg.rate_limit_ip.burst == 40 &&
				   cfg.rate_limit_login.count == 3 && cfg.rate_limit_login.burst == 3 &&
				   cfg.rate_limit_login.period_us == 60000000ULL &&
				   !cfg.rate_limit_principal.enabled, "rate limits: values not stored (%s)", err);
		for (k = 0; k < sizeof(load_cases) / sizeof(load_cases[0]); k++)
			if (strcmp(load_cases[k].name, "trusted proxies valid") == 0)
				break;
		ok = k < sizeof(load_cases) / sizeof(load_cases[0]) &&
			config_load(&cfg, fake_lookup, (void *) load_cases[k].env, err, sizeof(err));
		UNIT_CHECK(ok && cfg.trusted_proxies.n == 2, "trusted proxies: not stored (%s)", err);
	}
}

/* --- read replicas ------------------------------------------------------- */

typedef struct replica_case
{
	const char *name;
	const char *text;
	bool		ok;
	int			n;
	const char *urls[3];		/* the first three, as split */
	const char *err_has;
} replica_case;

static const replica_case replica_cases[] = {
	{"empty: none", "", true, 0, {NULL}, NULL},
	{"blanks only: none", "  \t\n", true, 0, {NULL}, NULL},
	{"one", "postgresql://u:p@r1:5433/app", true, 1, {"postgresql://u:p@r1:5433/app"}, NULL},
	{"two, blanks around", "  postgres://r1/app\tpostgresql://r2/app?sslmode=verify-full \n",
		true, 2, {"postgres://r1/app", "postgresql://r2/app?sslmode=verify-full"}, NULL},
	{"one with several hosts", "postgresql://r1:5432,r2:5432/app", true, 1,
	{"postgresql://r1:5432,r2:5432/app"}, NULL},
	{"key=value refused", "host=r1 dbname=app", false, 0, {NULL}, "replica 1: must be a postgresql://"},
	{"second not a URL", "postgresql://r1/app r2", false, 0, {NULL}, "replica 2: must be"},
	{"comma between URLs", "postgresql://r1/app,postgresql://r2/app", false, 0, {NULL},
	"separate them with blanks"},
	{"comma, short scheme", "postgres://r1/app,postgres://r2/app", false, 0, {NULL},
	"separate them with blanks"},
	{"twice", "postgresql://r1/app postgresql://r1/app", false, 0, {NULL}, "replica 2 is replica 1"},
	{"control character", "postgresql://r1/a\x01pp", false, 0, {NULL}, "control characters"},
	{"upper-case scheme", "POSTGRESQL://r1/app", false, 0, {NULL}, "must be a postgresql://"},
	{"nine", "postgres://a postgres://b postgres://c postgres://d postgres://e postgres://f "
		"postgres://g postgres://h postgres://i", false, 0, {NULL}, "at most 8"},
};

static void
test_replicas(void)
{
	char		err[CONFIG_ERROR_MAX];
	ReplicaUrls urls;
	EdgeConfig	cfg;
	env_var		env[3] = {{NULL, NULL}};
	bool		ok;

	for (size_t i = 0; i < sizeof(replica_cases) / sizeof(replica_cases[0]); i++)
	{
		const replica_case *c = &replica_cases[i];

		err[0] = '\0';
		ok = config_parse_replica_urls(c->text, &urls, err, sizeof(err));
		UNIT_CHECK(ok == c->ok, "replicas \"%s\": ok=%d (%s)", c->name, ok, err);
		if (c->err_has != NULL)
			UNIT_CHECK(strstr(err, c->err_has) != NULL, "replicas \"%s\": message %s",
					   c->name, err);
		if (!ok || !c->ok)
			continue;
		UNIT_CHECK(urls.n == c->n, "replicas \"%s\": %d urls", c->name, urls.n);
		for (int k = 0; k < urls.n && k < 3; k++)
			UNIT_CHECK(urls.url[k].length == strlen(c->urls[k]) &&
					   memcmp(c->text + urls.url[k].offset, c->urls[k], urls.url[k].length) == 0,
					   "replicas \"%s\": url %d is %.*s", c->name, k + 1,
					   (int) urls.url[k].length, c->text + urls.url[k].offset);
	}

	/* through config_load: a secret, never echoed; the defaults */
	env[0] = (env_var) {"WARDEN_DATABASE_READ_URL", "host=r1 password=s3cret"};
	ok = config_load(&cfg, fake_lookup, env, err, sizeof(err));
	UNIT_CHECK(!ok && strstr(err, "WARDEN_DATABASE_READ_URL") != NULL &&
			   strstr(err, "s3cret") == NULL, "read url: named, not echoed: %s", err);
	env[0] = (env_var) {NULL, NULL};
	ok = config_load(&cfg, fake_lookup, env, err, sizeof(err));
	UNIT_CHECK(ok && cfg.replicas.n == 0 && strcmp(cfg.database_read_url, "") == 0 &&
			   cfg.replica_max_lag_ms == 5000 && cfg.replica_probe_interval_ms == 250,
			   "defaults: no replicas, lag 5000, probe 250");
	env[0] = (env_var) {"WARDEN_DATABASE_READ_URL", "postgresql://r1/app postgresql://r2/app"};
	env[1] = (env_var) {"WARDEN_REPLICA_MAX_LAG_MS", "0"};
	env[2] = (env_var) {"WARDEN_REPLICA_PROBE_INTERVAL_MS", "10"};
	ok = config_load(&cfg, fake_lookup, env, err, sizeof(err));
	UNIT_CHECK(ok && cfg.replicas.n == 2 && cfg.replica_max_lag_ms == 0 &&
			   cfg.replica_probe_interval_ms == 10, "replicas stored (%s)", err);
	env[0] = (env_var) {"WARDEN_REPLICA_MAX_LAG_MS", "600001"};
	env[1] = env[2] = (env_var) {NULL, NULL};
	ok = config_load(&cfg, fake_lookup, env, err, sizeof(err));
	UNIT_CHECK(!ok && strstr(err, "WARDEN_REPLICA_MAX_LAG_MS") != NULL, "lag too long: %s", err);
	env[0] = (env_var) {"WARDEN_REPLICA_PROBE_INTERVAL_MS", "9"};
	ok = config_load(&cfg, fake_lookup, env, err, sizeof(err));
	UNIT_CHECK(!ok && strstr(err, "WARDEN_REPLICA_PROBE_INTERVAL_MS") != NULL,
			   "probe interval below min: %s", err);
}

int
main(void)
{
	test_int();
	test_listen();
	test_redis();
	test_redis_lengths();
	test_redis_tunnel();
	test_load();
	test_redis_tls_load();
	test_replicas();
	return UNIT_MAIN_END();
}
