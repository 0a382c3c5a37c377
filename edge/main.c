/*
 * main.c
 *		warden-edge: start-up, signals and graceful shutdown.
 *
 * The rhythm: read the settings (exit 2 if any is invalid), block the
 * signals we handle, listen, start the health prober, the database pool,
 * the Redis thread and the HTTP daemon, then wait in sigwait() on the main
 * thread:
 *	SIGHUP			reads the HTTPS certificate and key again (tlscert.c):
 *					new handshakes use the new pair, established
 *					connections go on; a pair that fails its checks is
 *					refused with a log line and the current one stays.
 *	SIGTERM/SIGINT	drain: readiness turns 503 and responses close their
 *					connections, new connections are refused, requests in
 *					flight get up to WARDEN_DRAIN_TIMEOUT_MS to finish (a
 *					second SIGTERM/SIGINT cuts that short), then everything
 *					stops and is freed, and the exit status is 0.
 *
 * Signals are blocked before any thread exists, so every thread inherits
 * the mask and only sigwait() on this thread ever sees them: no handler
 * runs in the middle of a libmicrohttpd, libpq or jansson call. SIGPIPE is
 * ignored: a client that hangs up is a failed write, not a dead process.
 *
 * No shared state of its own; the modules it drives document theirs.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "authz.h"
#include "config.h"
#include "credential.h"
#include "dbcall.h"
#include "dbpool.h"
#include "decisions.h"
#include "health.h"
#include "http.h"
#include "identity.h"
#include "jwks.h"
#include "listener.h"
#include "log.h"
#include "metrics.h"
#include "net.h"
#include "oauth.h"
#include "pgconn.h"
#include "ratelimit.h"
#include "rediscall.h"
#include "replicas.h"
#include "rpc.h"
#include "snapshot.h"
#include "timeutil.h"
#include "tlscert.h"
#include "verifier.h"

#ifndef WARDEN_VERSION
#define WARDEN_VERSION "0.1.0"
#endif

#define MAIN_EXIT_CONFIG 2
#define MAIN_EXIT_STARTUP 1
/* How often the drain checks for the last request to finish. */
#define MAIN_DRAIN_POLL_MS 10
/* service accounts' API keys: few, so a fixed bound */
#define MAIN_API_KEY_CACHE_SIZE 10000

static const char *
main_getenv(const char *name, void *arg)
{
	(void) arg;
	return getenv(name);
}

static const char *
main_signal_name(int sig)
{
	switch (sig)
	{
		case SIGTERM:
			return "SIGTERM";
		case SIGINT:
			return "SIGINT";
		case SIGHUP:
			return "SIGHUP";
	}
	return "signal";
}

/*
 * An invalid setting: a JSON line for log collectors and a plain line for
 * the human at the terminal, then exit 2.
 */
static void
main_config_error(const char *err)
{
	log_write(LOG_LEVEL_ERROR, "invalid configuration", "{s:s}",
			  "error", err);
	fprintf(stderr, "warden-edge: invalid configuration: %s\n", err);
	exit(MAIN_EXIT_CONFIG);
}

static void
main_startup_error(const char *err)
{
	log_write(LOG_LEVEL_ERROR, "cannot start", "{s:s}", "error", err);
	fprintf(stderr, "warden-edge: cannot start: %s\n", err);
	exit(MAIN_EXIT_STARTUP);
}

/* --help and --version; anything else is a usage error. */
static int
main_arguments(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "--help") == 0)
	{
		config_print_help(stdout);
		return 0;
	}
	if (argc == 2 && strcmp(argv[1], "--version") == 0)
	{
		printf("warden-edge %s\n", WARDEN_VERSION);
		return 0;
	}
	fprintf(stderr, "warden-edge: unexpected argument \"%s\"; settings are "
			"environment variables, see --help\n", argv[1]);
	return MAIN_EXIT_CONFIG;
}

/*
 * rediss://: says once where Redis is reached, since the edge's own
 * connection is plain text to the tunnel and only the tunnel speaks TLS.
 */
static void
main_log_redis_tunnel(const RedisUrl *url)
{
	char		tunnel[CONFIG_HOST_MAX + 16];
	char		server[CONFIG_HOST_MAX + 16];
	bool		v6_tunnel = strchr(url->tunnel_host, ':') != NULL;
	bool		v6_server = strchr(url->host, ':') != NULL;

	if (!url->tls)
		return;
	snprintf(tunnel, sizeof(tunnel), "%s%s%s:%d", v6_tunnel ? "[" : "",
			 url->tunnel_host, v6_tunnel ? "]" : "", url->tunnel_port);
	snprintf(server, sizeof(server), "%s%s%s:%d", v6_server ? "[" : "",
			 url->host, v6_server ? "]" : "", url->port);
	log_write(LOG_LEVEL_INFO, "redis over TLS through the local tunnel",
			  "{s:s, s:s}", "tunnel", tunnel, "server", server);
}

/* Blocks the signals sigwait() handles and ignores SIGPIPE, process-wide. */
static void
main_setup_signals(sigset_t *handled)
{
	struct sigaction ignore;
	int			rc;

	sigemptyset(handled);
	sigaddset(handled, SIGTERM);
	sigaddset(handled, SIGINT);
	sigaddset(handled, SIGHUP);
	rc = pthread_sigmask(SIG_BLOCK, handled, NULL);
	if (rc != 0)
		main_startup_error(strerror(rc));

	memset(&ignore, 0, sizeof(ignore));
	ignore.sa_handler = SIG_IGN;
	sigemptyset(&ignore.sa_mask);
	if (sigaction(SIGPIPE, &ignore, NULL) != 0)
		main_startup_error(strerror(errno));
}

/* Waits for SIGTERM or SIGINT, reloading the certificate on SIGHUP. */
static int
main_wait_for_stop(const sigset_t *handled, bool tls)
{
	int			sig;

	for (;;)
	{
		if (sigwait(handled, &sig) != 0)
			continue;
		if (sig != SIGHUP)
			return sig;
		if (tls)
			(void) tlscert_reload();	/* logs either way */
		else
			log_write(LOG_LEVEL_INFO, "SIGHUP ignored", "{s:s}",
					  "reason", "plain HTTP: no certificate to reload");
	}
}

/*
 * Waits until no request is in flight, the drain timeout passes, or a
 * second stop signal arrives. sigtimedwait() is the sleep, so signals are
 * seen as they come. Returns the number of requests left in flight.
 */
static int
main_wait_for_drain(const sigset_t *handled, int timeout_ms)
{
	int64_t		deadline = timeutil_mono_ms() + timeout_ms;
	int64_t		left;
	struct timespec step;
	int			sig;

	while (http_in_flight() > 0)
	{
		left = deadline - timeutil_mono_ms();
		if (left <= 0)
		{
			log_write(LOG_LEVEL_WARN, "drain timed out", "{s:i}",
					  "in_flight", http_in_flight());
			break;
		}
		if (left > MAIN_DRAIN_POLL_MS)
			left = MAIN_DRAIN_POLL_MS;
		step.tv_sec = 0;
		step.tv_nsec = (long) left * 1000000L;
		sig = sigtimedwait(handled, NULL, &step);
		if (sig == SIGHUP)
			log_write(LOG_LEVEL_INFO, "SIGHUP ignored", "{s:s}",
					  "reason", "draining");
		else if (sig > 0)
		{
			log_write(LOG_LEVEL_WARN, "second stop signal, not waiting",
					  "{s:s, s:i}", "signal", main_signal_name(sig),
					  "in_flight", http_in_flight());
			break;
		}
	}
	return http_in_flight();
}

/*
 * What each HTTP worker's loop drives (httploop.h): its shard of the
 * primary's pool and of each read replica's, their pollfds one after the
 * other.
 */
/* the primary and every read replica */
#define MAIN_LOOP_POOLS_MAX (1 + CONFIG_REPLICAS_MAX)

typedef struct MainLoopShards
{
	int			n;
	DbShard    *shards[MAIN_LOOP_POOLS_MAX];
	int			nfds[MAIN_LOOP_POOLS_MAX];
} MainLoopShards;

/* arg: an array of one MainLoopShards per loop, made before the loops */
static void *
main_pool_attach(void *arg, int index)
{
	MainLoopShards *m = &((MainLoopShards *) arg)[index];
	DbShard    *s;

	if ((s = dbpool_attach(dbcall_primary(), index)) != NULL)
		m->shards[m->n++] = s;
	for (int i = 0; i < replicas_count() && m->n < MAIN_LOOP_POOLS_MAX; i++)
		if ((s = dbpool_attach(replicas_pool(i), index)) != NULL)
			m->shards[m->n++] = s;
	return m->n > 0 ? m : NULL;
}

static int
main_pool_fds(void *ctx)
{
	MainLoopShards *m = ctx;
	int			n = 0;

	for (int i = 0; i < m->n; i++)
		n += dbpool_shard_fds(m->shards[i]);
	return n;
}

static int
main_pool_prepare(void *ctx, struct pollfd *pfds, int *timeout_ms)
{
	MainLoopShards *m = ctx;
	int			n = 0;

	for (int i = 0; i < m->n; i++)
	{
		m->nfds[i] = dbpool_shard_prepare(m->shards[i], pfds + n, timeout_ms);
		n += m->nfds[i];
	}
	return n;
}

static void
main_pool_dispatch(void *ctx, const struct pollfd *pfds, int n)
{
	MainLoopShards *m = ctx;
	int			at = 0;

	(void) n;
	for (int i = 0; i < m->n; i++)
	{
		dbpool_shard_dispatch(m->shards[i], pfds + at, m->nfds[i]);
		at += m->nfds[i];
	}
}

static void
main_pool_detach(void *ctx)
{
	MainLoopShards *m = ctx;

	for (int i = 0; i < m->n; i++)
		dbpool_detach(m->shards[i]);
	m->n = 0;
}

int
main(int argc, char **argv)
{
	EdgeConfig	cfg;
	sigset_t	handled;
	char		err[512];
	char		bound[NET_ADDR_MAX];
	long		cpus;
	int			threads;
	int			listen_fd;
	int			sig;
	int			abandoned;
	HttpTls		tls = {0};
	MainLoopShards *loop_shards;
	HttpLoopWork work = {NULL, main_pool_attach, main_pool_fds, main_pool_prepare,
	main_pool_dispatch, main_pool_detach};
	bool		tls_ok = false;
	DbPool	   *pool;

	if (argc > 1)
		return main_arguments(argc, argv);

	if (!config_load(&cfg, main_getenv, NULL, err, sizeof(err)))
		main_config_error(err);
	log_set_level((LogLevel) cfg.log_level);
	/* libpq would only say so at the first probe, and after start-up */
	if (!pgconn_conninfo_valid(cfg.database_url))
		main_config_error("WARDEN_DATABASE_URL: not a valid libpq connection "
						  "string (postgresql://... or key=value ...)");
	if (!replicas_configure(&cfg, err, sizeof(err)))
		main_config_error(err);

	if ((cfg.tls_cert_file[0] != '\0') != (cfg.tls_key_file[0] != '\0'))
		main_config_error("WARDEN_TLS_CERT_FILE and WARDEN_TLS_KEY_FILE: set both, or neither");
	if (cfg.tls_cert_file[0] != '\0')
	{
		/* read before any thread starts; SIGHUP reads the files again */
		if (!tlscert_load(cfg.tls_cert_file, cfg.tls_key_file, err, sizeof(err)))
			main_startup_error(err);
		tls.allow_tls12 = cfg.tls_min_version == 1;
		tls_ok = true;
	}

	main_setup_signals(&handled);

	threads = cfg.threads;
	if (threads == 0)
	{
		cpus = sysconf(_SC_NPROCESSORS_ONLN);
		threads = cpus > 0 ? (int) cpus : 1;
	}

	listen_fd = net_listen(&cfg.listen_addr, bound, sizeof(bound),
						   err, sizeof(err));
	if (listen_fd < 0)
		main_startup_error(err);
	if (!health_start(&cfg, err, sizeof(err)))
	{
		close(listen_fd);
		main_startup_error(err);
	}
	/* a shard per HTTP worker, driven by the worker's own loop (dbpool.c) */
	pool = dbpool_start("primary", cfg.database_url, cfg.db_pool_size, cfg.db_queue_max,
						cfg.db_timeout_ms, threads, err, sizeof(err));
	if (pool == NULL || !replicas_start(threads, err, sizeof(err)))
	{
		replicas_stop();
		dbpool_stop(pool);
		health_stop();
		close(listen_fd);
		main_startup_error(err);
	}
	dbcall_set_primary(pool);
	if (!rediscall_start(&cfg.redis, cfg.redis_timeout_ms, err, sizeof(err)))
	{
		replicas_stop();
		dbpool_stop(pool);
		health_stop();
		close(listen_fd);
		main_startup_error(err);
	}
	main_log_redis_tunnel(&cfg.redis);
	jwks_configure(cfg.db_timeout_ms);
	oauth_configure(cfg.db_timeout_ms);
	authz_configure(cfg.db_timeout_ms);
	if (!ratelimit_configure(&cfg))
		main_startup_error("rate limits: out of memory or no randomness");
	credential_configure(cfg.token_cookie);
	rpc_configure(cfg.api_schema, cfg.db_role, cfg.db_timeout_ms, cfg.rpc_cache_ttl_ms);
	http_set_server_timing(cfg.server_timing == 1);
	if (!metrics_init(cfg.db_timeout_ms, WARDEN_VERSION) ||
		!verifier_init((size_t) cfg.token_cache_size) ||
		!decisions_init((size_t) cfg.decision_cache_size, cfg.decision_cache_ttl_ms) ||
		!identity_init(cfg.db_timeout_ms, MAIN_API_KEY_CACHE_SIZE))
		main_startup_error("out of memory");
	snapshot_configure(cfg.database_url);
	/* the edge starts without PostgreSQL; the listener connects when it can */
	if (!listener_start(cfg.database_url, cfg.db_timeout_ms, err, sizeof(err)))
	{
		replicas_stop();
		dbpool_stop(pool);
		health_stop();
		close(listen_fd);
		main_startup_error(err);
	}
	work.arg = loop_shards = calloc((size_t) threads, sizeof(MainLoopShards));
	if (loop_shards == NULL)
		main_startup_error("out of memory");
	/* from here the daemon owns listen_fd, even if it fails to start */
	if (!http_start(listen_fd, threads, tls_ok ? &tls : NULL, &work, err, sizeof(err)))
	{
		http_stop();
		listener_stop();
		rediscall_stop();
		replicas_stop();
		dbpool_stop(pool);
		health_stop();
		main_startup_error(err);
	}
	log_write(LOG_LEVEL_INFO, "listening", "{s:s, s:s, s:i, s:i}",
			  "address", bound, "version", WARDEN_VERSION,
			  "threads", threads, "pid", (int) getpid());

	sig = main_wait_for_stop(&handled, tls_ok);

	log_write(LOG_LEVEL_INFO, "draining", "{s:s, s:i, s:i}",
			  "signal", main_signal_name(sig),
			  "in_flight", http_in_flight(),
			  "timeout_ms", cfg.drain_timeout_ms);
	http_begin_drain();
	health_request_stop();
	abandoned = main_wait_for_drain(&handled, cfg.drain_timeout_ms);
	health_stop();
	listener_stop();
	/*
	 * Before the daemon stops: every request waiting on Redis or the pool
	 * is resumed. Redis first, as a request it resumes may go on to the
	 * pool (which by then answers at once if stopped).
	 */
	rediscall_stop();
	replicas_stop();
	dbpool_stop(pool);
	http_stop();
	free(loop_shards);
	tlscert_free();
	replicas_free();
	dbpool_free(pool);
	rpc_stop();
	ratelimit_free();
	identity_shutdown();
	decisions_shutdown();
	verifier_shutdown();
	log_write(LOG_LEVEL_INFO, "stopped", "{s:i}", "abandoned", abandoned);
	return 0;
}
