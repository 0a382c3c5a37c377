/*
 * config.c
 *		The table of the edge's settings and the parsers behind it.
 *
 * Every setting is one row of config_settings: its environment variable, its
 * type, its default, one line of description and where its value lands in
 * an EdgeConfig. Loading, validation and --help all walk that one table, so
 * a new setting is one new row (as in redis's config.c).
 *
 * Parsers are strict: a value that is not exactly right is refused with a
 * message naming the variable, and the edge exits rather than guess. Values
 * of settings marked secret (URLs that may carry passwords) are never echoed
 * in a message, and the URL parser's own messages never quote the input.
 *
 * No locking: config_load() runs once, before any thread exists.
 */
#include "config.h"
#include "hex.h"
#include "ipaddr.h"
#include "tokenbucket.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CONFIG_REDIS_DEFAULT_PORT 6379
/* Longest part of a non-secret value quoted back in an error message. */
#define CONFIG_ECHO_MAX 64

typedef enum ConfigType
{
	CONFIG_STRING,
	CONFIG_INT,
	CONFIG_MS,
	CONFIG_ENUM
} ConfigType;

/* Parses a string setting further into a struct of EdgeConfig. */
typedef bool (*ConfigParser) (const char *text, void *dest,
							  char *err, size_t errlen);

typedef struct ConfigSetting
{
	const char *name;
	ConfigType	type;
	const char *default_value;	/* parsed exactly like a set variable */
	const char *description;
	size_t		offset;			/* of the value in EdgeConfig */
	long		min;			/* CONFIG_INT, CONFIG_MS */
	long		max;
	const char *const *values;	/* CONFIG_ENUM, NULL-terminated */
	ConfigParser parse;			/* CONFIG_STRING, optional */
	size_t		parsed_offset;	/* where parse writes */
	bool		secret;			/* value may hold a password */
	bool		optional;		/* CONFIG_STRING: empty means "not used" */
} ConfigSetting;

const char *const config_switch_names[] = {
	"off", "on", NULL
};

const char *const config_tls_version_names[] = {
	"1.3", "1.2", NULL
};

const char *const config_log_level_names[] = {
	"debug", "info", "warn", "error", NULL
};

static bool config_set_listen(const char *text, void *dest,
							  char *err, size_t errlen);
static bool config_set_redis(const char *text, void *dest,
							 char *err, size_t errlen);
static bool config_set_redis_tunnel(const char *text, void *dest,
									char *err, size_t errlen);
static bool config_set_rate(const char *text, void *dest,
							char *err, size_t errlen);
static bool config_set_networks(const char *text, void *dest,
								char *err, size_t errlen);
static bool config_set_api_schema(const char *text, void *dest,
								  char *err, size_t errlen);
static bool config_set_db_role(const char *text, void *dest,
							   char *err, size_t errlen);
static bool config_set_replicas(const char *text, void *dest,
								char *err, size_t errlen);

static const ConfigSetting config_settings[] = {
	{
		.name = "WARDEN_LISTEN",
		.type = CONFIG_STRING,
		.default_value = "127.0.0.1:8080",
		.description = "address to serve HTTP on, host:port or [ipv6]:port; "
		"port 0 picks a free port",
		.offset = offsetof(EdgeConfig, listen),
		.parse = config_set_listen,
		.parsed_offset = offsetof(EdgeConfig, listen_addr),
	},
	{
		.name = "WARDEN_DATABASE_URL",
		.type = CONFIG_STRING,
		.default_value = "postgresql://127.0.0.1:5432/postgres",
		.description = "libpq connection string of PostgreSQL",
		.offset = offsetof(EdgeConfig, database_url),
		.secret = true,
	},
	{
		.name = "WARDEN_DATABASE_READ_URL",
		.type = CONFIG_STRING,
		.default_value = "",
		.description = "read replicas of PostgreSQL, postgresql:// URLs separated by "
		"blanks (at most 8): /v1/rpc calls of STABLE and IMMUTABLE functions go to "
		"them; empty: everything goes to WARDEN_DATABASE_URL",
		.offset = offsetof(EdgeConfig, database_read_url),
		.parse = config_set_replicas,
		.parsed_offset = offsetof(EdgeConfig, replicas),
		.secret = true,
		.optional = true,
	},
	{
		.name = "WARDEN_REPLICA_MAX_LAG_MS",
		.type = CONFIG_MS,
		.default_value = "5000",
		.description = "a read replica further behind the primary than this is skipped "
		"(the primary serves its reads) until it catches up",
		.offset = offsetof(EdgeConfig, replica_max_lag_ms),
		.min = 0,
		.max = 600000,
	},
	{
		.name = "WARDEN_REPLICA_PROBE_INTERVAL_MS",
		.type = CONFIG_MS,
		.default_value = "250",
		.description = "how often each read replica's state and replay position, and "
		"the primary's WAL position, are probed (the lag's resolution)",
		.offset = offsetof(EdgeConfig, replica_probe_interval_ms),
		.min = 10,
		.max = 60000,
	},
	{
		.name = "WARDEN_REDIS_URL",
		.type = CONFIG_STRING,
		.default_value = "redis://127.0.0.1:6379",
		.description = "Redis, redis://[[user]:password@]host[:port][/db]; rediss://... "
		"for Redis over TLS through WARDEN_REDIS_TLS_TUNNEL",
		.offset = offsetof(EdgeConfig, redis_url),
		.parse = config_set_redis,
		.parsed_offset = offsetof(EdgeConfig, redis),
		.secret = true,
	},
	{
		.name = "WARDEN_REDIS_TLS_TUNNEL",
		.type = CONFIG_STRING,
		.default_value = "",
		.description = "with a rediss:// WARDEN_REDIS_URL (and only then): the local "
		"TLS tunnel to it, a loopback address 127.0.0.1:port or [::1]:port "
		"the edge connects to in plain text (stunnel, ghostunnel)",
		.offset = offsetof(EdgeConfig, redis_tls_tunnel),
		.parse = config_set_redis_tunnel,
		.parsed_offset = offsetof(EdgeConfig, redis_tunnel),
		.optional = true,
	},
	{
		.name = "WARDEN_REDIS_TIMEOUT_MS",
		.type = CONFIG_MS,
		.default_value = "100",
		.description = "the longest a Redis command may take before the edge goes on "
		"without it (rate limits then count in process)",
		.offset = offsetof(EdgeConfig, redis_timeout_ms),
		.min = 5,
		.max = 60000,
	},
	{
		.name = "WARDEN_THREADS",
		.type = CONFIG_INT,
		.default_value = "0",
		.description = "HTTP worker threads; 0 means one per online CPU",
		.offset = offsetof(EdgeConfig, threads),
		.min = 0,
		.max = 1024,
	},
	{
		.name = "WARDEN_DB_POOL_SIZE",
		.type = CONFIG_INT,
		.default_value = "10",
		.description = "PostgreSQL connections of this edge (each with a thread); "
		"keep replicas x this within the server's max_connections",
		.offset = offsetof(EdgeConfig, db_pool_size),
		.min = 1,
		.max = 100,
	},
	{
		.name = "WARDEN_DB_QUEUE_MAX",
		.type = CONFIG_INT,
		.default_value = "1000",
		.description = "requests that may wait for a PostgreSQL connection; "
		"more get 503 at once",
		.offset = offsetof(EdgeConfig, db_queue_max),
		.min = 1,
		.max = 1000000,
	},
	{
		.name = "WARDEN_DB_TIMEOUT_MS",
		.type = CONFIG_MS,
		.default_value = "3000",
		.description = "the longest a request waits for PostgreSQL, queueing, "
		"connecting and statements included (then 503); also the "
		"statement_timeout of the edge's sessions",
		.offset = offsetof(EdgeConfig, db_timeout_ms),
		.min = 100,
		.max = 600000,
	},
	{
		.name = "WARDEN_TOKEN_CACHE_SIZE",
		.type = CONFIG_INT,
		.default_value = "100000",
		.description = "verified access tokens remembered (by digest) until they "
		"expire, so a token seen again costs no signature check",
		.offset = offsetof(EdgeConfig, token_cache_size),
		.min = 1,
		.max = 10000000,
	},
	{
		.name = "WARDEN_DECISION_CACHE_SIZE",
		.type = CONFIG_INT,
		.default_value = "100000",
		.description = "authorization decisions kept in process; every one made "
		"under an older policy version is dropped when NOTIFY warden_policy arrives",
		.offset = offsetof(EdgeConfig, decision_cache_size),
		.min = 1,
		.max = 10000000,
	},
	{
		.name = "WARDEN_DECISION_CACHE_TTL_MS",
		.type = CONFIG_MS,
		.default_value = "60000",
		.description = "the longest a decision is kept; it bounds memory only "
		"(policy changes drop decisions at once)",
		.offset = offsetof(EdgeConfig, decision_cache_ttl_ms),
		.min = 100,
		.max = 86400000,
	},
	{
		.name = "WARDEN_HEALTH_INTERVAL_MS",
		.type = CONFIG_MS,
		.default_value = "1000",
		.description = "how often PostgreSQL and Redis are probed",
		.offset = offsetof(EdgeConfig, health_interval_ms),
		.min = 100,
		.max = 3600000,
	},
	{
		.name = "WARDEN_HEALTH_TIMEOUT_MS",
		.type = CONFIG_MS,
		.default_value = "2000",
		.description = "time one probe may take, connecting included",
		.offset = offsetof(EdgeConfig, health_timeout_ms),
		.min = 100,
		.max = 600000,
	},
	{
		.name = "WARDEN_DRAIN_TIMEOUT_MS",
		.type = CONFIG_MS,
		.default_value = "25000",
		.description = "how long SIGTERM waits for requests in flight",
		.offset = offsetof(EdgeConfig, drain_timeout_ms),
		.min = 0,
		.max = 3600000,
	},
	{
		.name = "WARDEN_TLS_CERT_FILE",
		.type = CONFIG_STRING,
		.default_value = "",
		.description = "PEM certificate chain to serve HTTPS with; empty: plain HTTP "
		"(behind a proxy that terminates TLS)",
		.offset = offsetof(EdgeConfig, tls_cert_file),
		.optional = true,
	},
	{
		.name = "WARDEN_TLS_KEY_FILE",
		.type = CONFIG_STRING,
		.default_value = "",
		.description = "PEM private key of WARDEN_TLS_CERT_FILE",
		.offset = offsetof(EdgeConfig, tls_key_file),
		.optional = true,
	},
	{
		.name = "WARDEN_TLS_MIN_VERSION",
		.type = CONFIG_ENUM,
		.default_value = "1.3",
		.description = "oldest TLS version accepted: 1.3, or 1.2 for older clients",
		.offset = offsetof(EdgeConfig, tls_min_version),
		.values = config_tls_version_names,
	},
	{
		.name = "WARDEN_TOKEN_COOKIE",
		.type = CONFIG_STRING,
		.default_value = "",
		.description = "name of a cookie /v1/authz and /v1/rpc also take the access "
		"token from (after the Authorization and X-API-Key headers); empty: none",
		.offset = offsetof(EdgeConfig, token_cookie),
		.optional = true,
	},
	{
		.name = "WARDEN_API_SCHEMA",
		.type = CONFIG_STRING,
		.default_value = "api",
		.description = "the schema whose functions /v1/rpc/{function} calls; nothing "
		"outside it is reachable (a lower-case SQL name; not pg_catalog, "
		"information_schema, warden or pg_*)",
		.offset = offsetof(EdgeConfig, api_schema),
		.parse = config_set_api_schema,
		.parsed_offset = offsetof(EdgeConfig, api_schema),
	},
	{
		.name = "WARDEN_DB_ROLE",
		.type = CONFIG_STRING,
		.default_value = "",
		.description = "the database role /v1/rpc calls run as (SET LOCAL ROLE), so its "
		"privileges and row level security apply; empty: /v1/rpc is off "
		"(calls never run as the edge's own login role)",
		.offset = offsetof(EdgeConfig, db_role),
		.parse = config_set_db_role,
		.parsed_offset = offsetof(EdgeConfig, db_role),
		.optional = true,
	},
	{
		.name = "WARDEN_RPC_CACHE_TTL_MS",
		.type = CONFIG_MS,
		.default_value = "10000",
		.description = "how long a function's catalog entry (arguments, volatility) "
		"is used before it is read again; a call failing as if the function "
		"changed reads it at once",
		.offset = offsetof(EdgeConfig, rpc_cache_ttl_ms),
		.min = 0,
		.max = 3600000,
	},
	{
		.name = "WARDEN_SERVER_TIMING",
		.type = CONFIG_ENUM,
		.default_value = "off",
		.description = "add a Server-Timing header (db, total) to every answer",
		.offset = offsetof(EdgeConfig, server_timing),
		.values = config_switch_names,
	},
	{
		.name = "WARDEN_RATE_LIMIT_IP",
		.type = CONFIG_STRING,
		.default_value = "100/s,burst=200",
		.description = "requests per client address to /v1/auth/* and /v1/rpc/*: "
		"<count>/<s|min|h|d>[,burst=<n>], or off",
		.offset = offsetof(EdgeConfig, rate_limit_ip_text),
		.parse = config_set_rate,
		.parsed_offset = offsetof(EdgeConfig, rate_limit_ip),
	},
	{
		.name = "WARDEN_RATE_LIMIT_PRINCIPAL",
		.type = CONFIG_STRING,
		.default_value = "50/s,burst=100",
		.description = "requests per authenticated principal to /v1/rpc/*, or off",
		.offset = offsetof(EdgeConfig, rate_limit_principal_text),
		.parse = config_set_rate,
		.parsed_offset = offsetof(EdgeConfig, rate_limit_principal),
	},
	{
		.name = "WARDEN_RATE_LIMIT_LOGIN",
		.type = CONFIG_STRING,
		.default_value = "5/min,burst=10",
		.description = "password logins per user name (counted under a digest of it), or off",
		.offset = offsetof(EdgeConfig, rate_limit_login_text),
		.parse = config_set_rate,
		.parsed_offset = offsetof(EdgeConfig, rate_limit_login),
	},
	{
		.name = "WARDEN_RATE_LIMIT_LOGIN_IP",
		.type = CONFIG_STRING,
		.default_value = "20/min,burst=40",
		.description = "password logins per client address, or off",
		.offset = offsetof(EdgeConfig, rate_limit_login_ip_text),
		.parse = config_set_rate,
		.parsed_offset = offsetof(EdgeConfig, rate_limit_login_ip),
	},
	{
		.name = "WARDEN_TRUSTED_PROXIES",
		.type = CONFIG_STRING,
		.default_value = "",
		.description = "proxies whose X-Forwarded-For is believed, as addresses or "
		"networks (10.0.0.0/8, ::1); empty: none, the TCP peer is the client",
		.offset = offsetof(EdgeConfig, trusted_proxies_text),
		.parse = config_set_networks,
		.parsed_offset = offsetof(EdgeConfig, trusted_proxies),
		.optional = true,
	},
	{
		.name = "WARDEN_LOG_LEVEL",
		.type = CONFIG_ENUM,
		.default_value = "info",
		.description = "least severe level written to the log",
		.offset = offsetof(EdgeConfig, log_level),
		.values = config_log_level_names,
	},
};

#define CONFIG_NSETTINGS (sizeof(config_settings) / sizeof(config_settings[0]))

/* snprintf into an error buffer that may be absent. */
static bool
config_fail(char *err, size_t errlen, const char *fmt,...)
{
	va_list		ap;

	if (err != NULL && errlen > 0)
	{
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return false;
}

/*
 * Digits only, optionally negative: strtol alone would also take leading
 * blanks, a plus sign and trailing garbage, which an operator never means.
 */
bool
config_parse_int(const char *text, long min, long max, long *out,
				 char *err, size_t errlen)
{
	const char *p = text;
	char	   *end;
	long		value;

	if (*p == '-')
		p++;
	if (*p == '\0')
		return config_fail(err, errlen, "must be an integer");
	for (; *p != '\0'; p++)
	{
		if (!isdigit((unsigned char) *p))
			return config_fail(err, errlen, "must be an integer");
	}
	errno = 0;
	value = strtol(text, &end, 10);
	if (errno == ERANGE || value < min || value > max)
		return config_fail(err, errlen, "must be between %ld and %ld",
						   min, max);
	*out = value;
	return true;
}

/* A port is 1 to 5 digits; min is 0 where "pick one" makes sense. */
static bool
config_parse_port(const char *p, const char *end, int min, int *out,
				  char *err, size_t errlen)
{
	long		value = 0;
	const char *q;

	if (p == end || end - p > 5)
		return config_fail(err, errlen,
						   "port must be a number from %d to 65535", min);
	for (q = p; q < end; q++)
	{
		if (!isdigit((unsigned char) *q))
			return config_fail(err, errlen,
							   "port must be a number from %d to 65535", min);
		value = value * 10 + (*q - '0');
	}
	if (value < min || value > 65535)
		return config_fail(err, errlen,
						   "port must be a number from %d to 65535", min);
	*out = (int) value;
	return true;
}

/* Host names and IPv4 literals; no percent-encoding, no IDN. */
static bool
config_valid_hostname(const char *p, const char *end)
{
	for (; p < end; p++)
	{
		if (!isalnum((unsigned char) *p) && *p != '.' && *p != '-' &&
			*p != '_')
			return false;
	}
	return true;
}

/* What may stand between brackets: hex, colons, dots and a %zone. */
static bool
config_valid_ipv6(const char *p, const char *end)
{
	bool		colon = false;

	for (; p < end; p++)
	{
		if (*p == ':')
			colon = true;
		else if (!isalnum((unsigned char) *p) && *p != '.' && *p != '%' &&
				 *p != '_' && *p != '-')
			return false;
	}
	return colon;
}

/*
 * Parses host[:port] or [ipv6][:port] spanning [p, end) into host and port.
 * Messages describe what is wrong without quoting the text: for a Redis URL
 * a mistyped password can end up where the port was expected.
 */
static bool
config_parse_hostport(const char *p, const char *end, bool port_required,
					  int default_port, int min_port,
					  char *host, int *port, char *err, size_t errlen)
{
	const char *host_start;
	const char *host_end;
	const char *colon;

	if (p >= end)
		return config_fail(err, errlen, "host must not be empty");
	if (*p == '[')
	{
		host_start = p + 1;
		host_end = memchr(host_start, ']', end - host_start);
		if (host_end == NULL)
			return config_fail(err, errlen,
							   "missing ']' after the IPv6 address");
		if (!config_valid_ipv6(host_start, host_end))
			return config_fail(err, errlen, "invalid IPv6 address");
		colon = host_end + 1;
		if (colon < end && *colon != ':')
			return config_fail(err, errlen,
							   "unexpected text after the IPv6 address");
		if (colon == end)
			colon = NULL;
	}
	else
	{
		host_start = p;
		colon = memchr(p, ':', end - p);
		host_end = colon != NULL ? colon : end;
		if (colon != NULL && memchr(colon + 1, ':', end - colon - 1) != NULL)
			return config_fail(err, errlen,
							   "an IPv6 address must be written in brackets, "
							   "like [::1]:8080");
		if (!config_valid_hostname(host_start, host_end))
			return config_fail(err, errlen, "invalid host name");
	}
	if (host_end == host_start)
		return config_fail(err, errlen, "host must not be empty");
	if (host_end - host_start > CONFIG_HOST_MAX)
		return config_fail(err, errlen, "host is longer than %d characters",
						   CONFIG_HOST_MAX);
	if (colon == NULL)
	{
		if (port_required)
			return config_fail(err, errlen,
							   "expected host:port or [ipv6]:port");
		*port = default_port;
	}
	else if (!config_parse_port(colon + 1, end, min_port, port, err, errlen))
		return false;
	memcpy(host, host_start, host_end - host_start);
	host[host_end - host_start] = '\0';
	return true;
}

bool
config_parse_listen(const char *text, ListenAddr *out, char *err,
					size_t errlen)
{
	ListenAddr	addr;

	memset(&addr, 0, sizeof(addr));
	if (!config_parse_hostport(text, text + strlen(text), true, 0, 0,
							   addr.host, &addr.port, err, errlen))
		return false;
	*out = addr;
	return true;
}

/*
 * Percent-decodes a user name or password of a URL into out (NUL-terminated,
 * at most CONFIG_CREDENTIAL_MAX bytes). %00 is refused: it cannot be passed
 * on as a C string and is never meant.
 */
static bool
config_decode_credential(const char *p, const char *end, const char *what,
						 char *out, char *err, size_t errlen)
{
	size_t		n = 0;
	int			hi;
	int			lo;
	unsigned char c;

	while (p < end)
	{
		c = (unsigned char) *p;
		if (c == '%')
		{
			if (end - p < 3 || (hi = hex_nibble(p[1])) < 0 ||
				(lo = hex_nibble(p[2])) < 0)
				return config_fail(err, errlen,
								   "invalid percent-encoding in the %s", what);
			c = (unsigned char) (hi * 16 + lo);
			if (c == '\0')
				return config_fail(err, errlen, "%%00 is not allowed in the %s",
								   what);
			p += 3;
		}
		else if (c <= ' ' || c == 0x7f)
			return config_fail(err, errlen,
							   "the %s must not contain blanks or control "
							   "characters (percent-encode them)", what);
		else
			p++;
		if (n == CONFIG_CREDENTIAL_MAX)
			return config_fail(err, errlen, "the %s is longer than %d bytes",
							   what, CONFIG_CREDENTIAL_MAX);
		out[n++] = (char) c;
	}
	out[n] = '\0';
	return true;
}

/*
 * redis://[[user]:password@]host[:port][/db]. The credentials end at the last
 * '@' of the authority, so an unencoded '@' in a password still parses; a ':'
 * in a user name, or '/', '?' or '#' anywhere in them, must be encoded.
 */
bool
config_parse_redis_url(const char *text, RedisUrl *out, char *err,
					   size_t errlen)
{
	RedisUrl	url;
	const char *auth;
	const char *auth_end;
	const char *hostport;
	const char *at = NULL;
	const char *colon;
	const char *p;
	long		db;

	memset(&url, 0, sizeof(url));
	if (strncasecmp(text, "rediss://", 9) == 0)
	{
		url.tls = true;
		auth = text + 9;
	}
	else if (strncasecmp(text, "redis://", 8) == 0)
		auth = text + 8;
	else
		return config_fail(err, errlen,
						   "must be a URL redis://[[user]:password@]host"
						   "[:port][/db] (or rediss:// for TLS)");
	if (strpbrk(auth, "?#") != NULL)
		return config_fail(err, errlen,
						   "query strings and fragments are not supported "
						   "(percent-encode '?' and '#' in a password)");
	auth_end = strchr(auth, '/');
	if (auth_end == NULL)
		auth_end = auth + strlen(auth);
	for (p = auth; p < auth_end; p++)
	{
		if (*p == '@')
			at = p;
	}

	hostport = auth;
	if (at != NULL)
	{
		colon = memchr(auth, ':', at - auth);
		if (colon == NULL)
			return config_fail(err, errlen,
							   "credentials must be written [user]:password@");
		if (colon > auth)
		{
			if (!config_decode_credential(auth, colon, "user name", url.user,
										  err, errlen))
				return false;
			url.has_user = true;
		}
		if (colon + 1 == at)
			return config_fail(err, errlen, "the password must not be empty");
		if (!config_decode_credential(colon + 1, at, "password", url.password,
									  err, errlen))
			return false;
		url.has_password = true;
		hostport = at + 1;
	}
	if (!config_parse_hostport(hostport, auth_end, false,
							   CONFIG_REDIS_DEFAULT_PORT, 1,
							   url.host, &url.port, err, errlen))
		return false;

	if (*auth_end == '/' && auth_end[1] != '\0')
	{
		if (auth_end[1] == '-' ||
			!config_parse_int(auth_end + 1, 0, INT_MAX, &db, NULL, 0))
			return config_fail(err, errlen,
							   "the database after '/' must be a number from "
							   "0 to %d", INT_MAX);
		url.db = (int) db;
	}
	*out = url;
	return true;
}

/*
 * WARDEN_REDIS_TLS_TUNNEL: host:port of a loopback address written as one
 * (127.0.0.0/8 or [::1]; no names, which could resolve elsewhere), since
 * the connection to it is plain text and must not leave the host (or the
 * pod, whose containers share one loopback). Empty: no tunnel.
 */
bool
config_parse_redis_tunnel(const char *text, ListenAddr *out, char *err,
						  size_t errlen)
{
	ListenAddr	addr;
	IpAddr		ip;
	static const unsigned char v6_loopback[16] = {[15] = 1};

	memset(&addr, 0, sizeof(addr));
	if (*text == '\0')
	{
		*out = addr;
		return true;
	}
	if (!config_parse_hostport(text, text + strlen(text), true, 0, 1,
							   addr.host, &addr.port, err, errlen))
		return false;
	if (!ipaddr_parse(addr.host, strlen(addr.host), &ip) ||
		!(ipaddr_is_v4(&ip) ? ip.b[12] == 127 :
		  memcmp(ip.b, v6_loopback, sizeof(v6_loopback)) == 0))
		return config_fail(err, errlen,
						   "must be a loopback address and port, 127.0.0.1:port "
						   "or [::1]:port: the edge talks to the tunnel in plain text");
	*out = addr;
	return true;
}

/*
 * The two Redis settings together: rediss:// only through a tunnel, and a
 * tunnel only for rediss://, so that a plain redis:// URL is never taken
 * for an encrypted connection, nor a TLS URL ever sent in plain text to
 * the server it names. Copies the tunnel into url.
 */
bool
config_check_redis_tls(RedisUrl *url, const ListenAddr *tunnel, char *err,
					   size_t errlen)
{
	bool		have_tunnel = tunnel->host[0] != '\0';

	if (url->tls && !have_tunnel)
		return config_fail(err, errlen,
						   "WARDEN_REDIS_URL: rediss:// needs WARDEN_REDIS_TLS_TUNNEL, "
						   "the local TLS tunnel to the server (this edge's Redis "
						   "client has no TLS of its own)");
	if (!url->tls && have_tunnel)
		return config_fail(err, errlen,
						   "WARDEN_REDIS_TLS_TUNNEL: set only with a rediss:// "
						   "WARDEN_REDIS_URL (a redis:// URL is plain text, straight "
						   "to its server)");
	if (have_tunnel)
	{
		memcpy(url->tunnel_host, tunnel->host, sizeof(url->tunnel_host));
		url->tunnel_port = tunnel->port;
	}
	return true;
}

/*
 * WARDEN_DATABASE_READ_URL: libpq URLs separated by blanks. URLs only,
 * since a key=value connection string has blanks of its own; and not
 * commas, which a URL may hold (several hosts), so a comma between two
 * URLs is pointed out rather than passed to libpq as one odd URL. Whether
 * each URL is one libpq accepts is checked by the edge (libpq is not
 * linked here). Messages name a replica by its place, never quote it.
 */
bool
config_parse_replica_urls(const char *text, ReplicaUrls *out, char *err,
						  size_t errlen)
{
	ReplicaUrls urls;
	const char *p = text;

	memset(&urls, 0, sizeof(urls));
	for (;;)
	{
		const char *start;
		size_t		len;
		size_t		scheme;

		while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
			p++;
		if (*p == '\0')
			break;
		start = p;
		while (*p != '\0' && *p != ' ' && *p != '\t' && *p != '\n' && *p != '\r')
		{
			if ((unsigned char) *p < 0x20 || *p == 0x7f)
				return config_fail(err, errlen,
								   "replica %d: control characters are not allowed",
								   urls.n + 1);
			p++;
		}
		len = (size_t) (p - start);
		if (urls.n == CONFIG_REPLICAS_MAX)
			return config_fail(err, errlen, "at most %d replicas", CONFIG_REPLICAS_MAX);
		scheme = strncmp(start, "postgresql://", 13) == 0 ? 13 :
			strncmp(start, "postgres://", 11) == 0 ? 11 : 0;
		if (scheme == 0)
			return config_fail(err, errlen,
							   "replica %d: must be a postgresql:// or postgres:// URL "
							   "(list URLs separated by blanks; key=value strings cannot "
							   "be listed)", urls.n + 1);
		for (size_t i = scheme; i + 11 <= len; i++)
			if (strncmp(start + i, "postgres://", 11) == 0 ||
				(i + 13 <= len && strncmp(start + i, "postgresql://", 13) == 0))
				return config_fail(err, errlen,
								   "replica %d: two URLs run together; separate them "
								   "with blanks, not commas", urls.n + 1);
		for (int k = 0; k < urls.n; k++)
			if (urls.url[k].length == len &&
				memcmp(text + urls.url[k].offset, start, len) == 0)
				return config_fail(err, errlen, "replica %d is replica %d again",
								   urls.n + 1, k + 1);
		urls.url[urls.n].offset = (size_t) (start - text);
		urls.url[urls.n].length = len;
		urls.n++;
	}
	*out = urls;
	return true;
}

/*
 * The API schema: a lower-case SQL name, so it needs no quoting rules of
 * its own, and none of the system's or warden's schemas, whose functions
 * must never become endpoints.
 */
bool
config_check_api_schema(const char *text, char *err, size_t errlen)
{
	size_t		i;
	size_t		n = strlen(text);

	if (n == 0 || n > 63)
		return config_fail(err, errlen, "must be 1 to 63 characters");
	for (i = 0; i < n; i++)
	{
		char		c = text[i];

		if (!((c >= 'a' && c <= 'z') || c == '_' || (i > 0 && c >= '0' && c <= '9')))
			return config_fail(err, errlen,
							   "must be a lower-case SQL name: [a-z_][a-z0-9_]*");
	}
	if (strcmp(text, "pg_catalog") == 0 || strcmp(text, "information_schema") == 0 ||
		strcmp(text, "warden") == 0 || strncmp(text, "pg_", 3) == 0)
		return config_fail(err, errlen,
						   "must not be a system schema or warden's own");
	return true;
}

/*
 * A role name is bound as a parameter, never spliced, so only what can
 * never be meant is refused: control characters, over 63 bytes, and
 * "none", which is how SET ROLE goes back to the login role.
 */
bool
config_check_db_role(const char *text, char *err, size_t errlen)
{
	size_t		i;
	size_t		n = strlen(text);

	if (n > 63)
		return config_fail(err, errlen, "must be at most 63 bytes");
	for (i = 0; i < n; i++)
	{
		if ((unsigned char) text[i] < 0x20 || text[i] == 0x7f)
			return config_fail(err, errlen, "must not contain control characters");
	}
	if (strcasecmp(text, "none") == 0)
		return config_fail(err, errlen,
						   "must name a role (\"none\" would run calls as the login role)");
	return true;
}

static bool
config_set_api_schema(const char *text, void *dest, char *err, size_t errlen)
{
	(void) dest;
	return config_check_api_schema(text, err, errlen);
}

static bool
config_set_db_role(const char *text, void *dest, char *err, size_t errlen)
{
	(void) dest;
	return config_check_db_role(text, err, errlen);
}

static bool
config_set_replicas(const char *text, void *dest, char *err, size_t errlen)
{
	return config_parse_replica_urls(text, dest, err, errlen);
}

static bool
config_set_listen(const char *text, void *dest, char *err, size_t errlen)
{
	return config_parse_listen(text, dest, err, errlen);
}

static bool
config_set_redis(const char *text, void *dest, char *err, size_t errlen)
{
	return config_parse_redis_url(text, dest, err, errlen);
}

static bool
config_set_redis_tunnel(const char *text, void *dest, char *err, size_t errlen)
{
	return config_parse_redis_tunnel(text, dest, err, errlen);
}

static bool
config_set_rate(const char *text, void *dest, char *err, size_t errlen)
{
	return tokenbucket_parse(text, dest, err, errlen);
}

static bool
config_set_networks(const char *text, void *dest, char *err, size_t errlen)
{
	return ipaddr_parse_list(text, dest, err, errlen);
}

/* Stores one setting's value; on failure err says why (without the name). */
static bool
config_apply(const ConfigSetting *s, const char *text, EdgeConfig *cfg,
			 char *err, size_t errlen)
{
	char	   *base = (char *) cfg;
	char		names[CONFIG_ERROR_MAX / 2];
	size_t		used = 0;
	long		value;
	int			i;

	if (*text == '\0' && !s->optional)
		return config_fail(err, errlen, "must not be empty");
	switch (s->type)
	{
		case CONFIG_STRING:
			if (s->parse != NULL &&
				!s->parse(text, base + s->parsed_offset, err, errlen))
				return false;
			*(const char **) (base + s->offset) = text;
			return true;
		case CONFIG_INT:
		case CONFIG_MS:
			if (!config_parse_int(text, s->min, s->max, &value, err, errlen))
				return false;
			*(int *) (base + s->offset) = (int) value;
			return true;
		case CONFIG_ENUM:
			for (i = 0; s->values[i] != NULL; i++)
			{
				if (strcasecmp(text, s->values[i]) == 0)
				{
					*(int *) (base + s->offset) = i;
					return true;
				}
			}
			names[0] = '\0';
			for (i = 0; s->values[i] != NULL && used < sizeof(names); i++)
				used += snprintf(names + used, sizeof(names) - used, "%s%s",
								 i > 0 ? ", " : "", s->values[i]);
			return config_fail(err, errlen, "must be one of %s", names);
	}
	return config_fail(err, errlen, "unknown setting type");
}

/*
 * Quotes a non-secret value back in a message: shortened, and with anything
 * unprintable replaced, so a message stays one readable line.
 */
static void
config_echo(const char *text, char *out, size_t outlen)
{
	size_t		n;

	for (n = 0; text[n] != '\0' && n < CONFIG_ECHO_MAX && n + 1 < outlen; n++)
		out[n] = isprint((unsigned char) text[n]) ? text[n] : '?';
	out[n] = '\0';
	if (text[n] != '\0' && n + 4 < outlen)
		strcpy(out + n, "...");
}

/*
 * Fills cfg from lookup() (getenv in the edge, a table in the tests), each
 * unset variable taking its default. Stops at the first invalid value; err
 * then names the variable and says what is wrong with it.
 */
bool
config_load(EdgeConfig *cfg, ConfigLookup lookup, void *arg,
			char *err, size_t errlen)
{
	char		why[CONFIG_ERROR_MAX];
	char		echo[CONFIG_ECHO_MAX + 4];
	const ConfigSetting *s;
	const char *text;
	size_t		i;

	memset(cfg, 0, sizeof(*cfg));
	for (i = 0; i < CONFIG_NSETTINGS; i++)
	{
		s = &config_settings[i];
		text = lookup(s->name, arg);
		if (text == NULL)
			text = s->default_value;
		if (config_apply(s, text, cfg, why, sizeof(why)))
			continue;
		if (s->secret)
			return config_fail(err, errlen, "%s: %s", s->name, why);
		config_echo(text, echo, sizeof(echo));
		return config_fail(err, errlen, "%s: %s (got \"%s\")", s->name, why,
						   echo);
	}
	/* settings that only make sense together; messages name them */
	return config_check_redis_tls(&cfg->redis, &cfg->redis_tunnel, err, errlen);
}

/* The --help text: the table itself, with ranges spelled out. */
void
config_print_help(FILE *out)
{
	const ConfigSetting *s;
	size_t		i;
	int			j;

	fprintf(out,
			"usage: warden-edge [--help | --version]\n"
			"\n"
			"The HTTP edge of warden. Settings are environment variables:\n"
			"\n"
			"  %-32s %-37s %s\n", "NAME", "DEFAULT", "DESCRIPTION");
	for (i = 0; i < CONFIG_NSETTINGS; i++)
	{
		s = &config_settings[i];
		fprintf(out, "  %-32s %-37s %s", s->name, s->default_value,
				s->description);
		switch (s->type)
		{
			case CONFIG_STRING:
				break;
			case CONFIG_INT:
				fprintf(out, " (%ld to %ld)", s->min, s->max);
				break;
			case CONFIG_MS:
				fprintf(out, " (%ld to %ld ms)", s->min, s->max);
				break;
			case CONFIG_ENUM:
				fputs(" (", out);
				for (j = 0; s->values[j] != NULL; j++)
					fprintf(out, "%s%s", j > 0 ? ", " : "", s->values[j]);
				fputc(')', out);
				break;
		}
		fputc('\n', out);
	}
}
