/*
 * config.h
 *		The edge's settings: one table of environment variables, and the
 *		pure parsers behind it.
 *
 * Nothing here touches libmicrohttpd, libpq, hiredis or jansson, and nothing
 * allocates: parsers write into caller-supplied structs and report problems
 * as a false return plus a message in a caller-supplied buffer. That keeps
 * the file linkable with core/ alone by tests/unit/test_edge_config.c.
 *
 * An EdgeConfig is filled once by config_load() before any thread starts and
 * is read-only afterwards, so it needs no locking.
 */
#ifndef EDGE_CONFIG_H
#define EDGE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "ipaddr.h"
#include "tokenbucket.h"

/* RFC 1035 names are at most 253 characters; leave room for IPv6 zones. */
#define CONFIG_HOST_MAX 255
/* Redis ACL user names and passwords, after percent-decoding. */
#define CONFIG_CREDENTIAL_MAX 512
/* Enough for any error message the parsers write. */
#define CONFIG_ERROR_MAX 256
/* Read replicas WARDEN_DATABASE_READ_URL may list. */
#define CONFIG_REPLICAS_MAX 8

/* A listen address, "host:port" or "[ipv6]:port"; port 0 is ephemeral. */
typedef struct ListenAddr
{
	char		host[CONFIG_HOST_MAX + 1];
	int			port;
} ListenAddr;

/*
 * redis://[[user]:password@]host[:port][/db], decoded; rediss:// the same
 * over TLS, which the edge reaches through a local tunnel (hiredis 0.14 has
 * no TLS): it then connects to tunnel_host:tunnel_port in plain text, and
 * host:port is the server the tunnel carries the connection to.
 */
typedef struct RedisUrl
{
	char		host[CONFIG_HOST_MAX + 1];
	int			port;
	bool		tls;			/* rediss:// */
	char		tunnel_host[CONFIG_HOST_MAX + 1];	/* WARDEN_REDIS_TLS_TUNNEL */
	int			tunnel_port;
	bool		has_user;
	char		user[CONFIG_CREDENTIAL_MAX + 1];
	bool		has_password;
	char		password[CONFIG_CREDENTIAL_MAX + 1];
	int			db;
} RedisUrl;

/*
 * WARDEN_DATABASE_READ_URL split: where each replica's URL lies in the
 * setting's text (no copies: config.c allocates nothing).
 */
typedef struct ReplicaUrls
{
	int			n;
	struct
	{
		size_t		offset;
		size_t		length;
	}			url[CONFIG_REPLICAS_MAX];
} ReplicaUrls;

/*
 * Every setting of the edge. Strings point into the environment (or at the
 * table's default), which is never modified while the process runs.
 */
typedef struct EdgeConfig
{
	const char *listen;
	ListenAddr	listen_addr;
	const char *database_url;
	const char *database_read_url;	/* "" : no read replicas */
	ReplicaUrls replicas;		/* its URLs */
	int			replica_max_lag_ms;
	int			replica_probe_interval_ms;
	const char *redis_url;
	RedisUrl	redis;
	const char *redis_tls_tunnel;	/* "" : none */
	ListenAddr	redis_tunnel;
	int			redis_timeout_ms;
	int			threads;		/* 0: one per online CPU */
	int			db_pool_size;
	int			db_queue_max;
	int			db_timeout_ms;
	int			token_cache_size;
	int			decision_cache_size;
	int			decision_cache_ttl_ms;
	int			health_interval_ms;
	int			health_timeout_ms;
	int			drain_timeout_ms;
	int			log_level;		/* index into config_log_level_names */
	const char *tls_cert_file;	/* "" : plain HTTP */
	const char *tls_key_file;
	int			tls_min_version;	/* index into config_tls_version_names */
	int			server_timing;	/* 1: Server-Timing headers */
	const char *token_cookie;	/* "" : none */
	const char *rate_limit_ip_text;
	TokenBucketSpec rate_limit_ip;
	const char *rate_limit_principal_text;
	TokenBucketSpec rate_limit_principal;
	const char *rate_limit_login_text;
	TokenBucketSpec rate_limit_login;
	const char *rate_limit_login_ip_text;
	TokenBucketSpec rate_limit_login_ip;
	const char *trusted_proxies_text;	/* "" : none */
	IpNetworkList trusted_proxies;
	const char *api_schema;		/* the schema /v1/rpc reaches */
	const char *db_role;		/* "" : /v1/rpc is off */
	int			rpc_cache_ttl_ms;
} EdgeConfig;

/* off, on */
extern const char *const config_switch_names[];

/* WARDEN_TLS_MIN_VERSION: 0 is TLS 1.3, 1 is TLS 1.2. */
extern const char *const config_tls_version_names[];

/* Same order as LogLevel in log.h. */
extern const char *const config_log_level_names[];

/* Where config_load() reads a variable; returns NULL when it is unset. */
typedef const char *(*ConfigLookup) (const char *name, void *arg);

extern bool config_load(EdgeConfig *cfg, ConfigLookup lookup, void *arg,
						char *err, size_t errlen);
extern void config_print_help(FILE *out);

extern bool config_parse_int(const char *text, long min, long max,
							 long *out, char *err, size_t errlen);
extern bool config_parse_listen(const char *text, ListenAddr *out,
								char *err, size_t errlen);
extern bool config_parse_redis_url(const char *text, RedisUrl *out,
								   char *err, size_t errlen);
extern bool config_parse_redis_tunnel(const char *text, ListenAddr *out,
									  char *err, size_t errlen);
extern bool config_check_redis_tls(RedisUrl *url, const ListenAddr *tunnel,
								   char *err, size_t errlen);
extern bool config_parse_replica_urls(const char *text, ReplicaUrls *out,
									 char *err, size_t errlen);
extern bool config_check_api_schema(const char *text, char *err, size_t errlen);
extern bool config_check_db_role(const char *text, char *err, size_t errlen);

#endif							/* EDGE_CONFIG_H */
