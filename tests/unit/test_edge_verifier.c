/*
 * test_edge_verifier.c
 *		edge/verifier: tokens signed here with core/jwt and checked against
 *		a state shaped like warden.edge_state(): the answers warden.verify()
 *		gives (keys, issuer, audience, expiry, revoked ids, disabled
 *		principals, revoke_all instants), the same again from the token
 *		cache, and the changes NOTIFY warden_tokens brings.
 */
#include "unit.h"

#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <time.h>

#include "jwk.h"
#include "jwt.h"
#include "verifier.h"

static EVP_PKEY *active;
static EVP_PKEY *retiring;
static EVP_PKEY *stranger;

/* A signed token (malloc'd; freed at exit with the rest). */
static char *
sign(EVP_PKEY *key, const char *kid, json_t *claims)
{
	static char *made[32];
	static int	nmade;
	char		tok[JWT_MAX_LEN];
	size_t		len;

	if (jwt_sign_rs256(key, kid, claims, tok, sizeof(tok), &len) != JWT_OK)
		tok[0] = '\0';
	json_decref(claims);
	return made[nmade++ % 32] = strdup(tok);
}

/* Claims as warden issues them, with what the caller changes. */
static json_t *
claims(const char *sub, const char *jti, int64_t iat, int64_t exp)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:s, s:s}",
					 "iss", "warden", "aud", "warden", "sub", sub, "jti", jti,
					 "iat", (json_int_t) iat, "exp", (json_int_t) exp,
					 "tenant", "acme", "scope", "document:read invoice:*");
}

static json_t *
key_entry(EVP_PKEY *key, const char *kid, int64_t verify_until)
{
	json_t	   *jwk = NULL;

	jwk_from_public_key(key, kid, &jwk);
	return json_pack("{s:o, s:I}", "jwk", jwk, "verify_until", (json_int_t) verify_until);
}

static json_t *
state(int64_t now, json_t *revoked, json_t *principals)
{
	return json_pack("{s:I, s:s, s:s, s:i, s:i, s:[o, o], s:o, s:o}",
					 "policy_version", (json_int_t) 7, "issuer", "warden",
					 "audience", "warden", "leeway", 30, "max_token_size", 8192,
					 "keys", key_entry(active, "k-active", 0),
					 key_entry(retiring, "k-retiring", now + 600),
					 "revoked", revoked, "principals", principals);
}

static VerifyStatus
check(const char *token, Identity *who)
{
	return verifier_verify(token, strlen(token), who);
}

int
main(void)
{
	int64_t		now = (int64_t) time(NULL);
	Identity	who;
	char		err[256];
	json_t	   *s;
	const char *alice;
	const char *bob;
	const char *tok;
	VerifierStats st;

	active = EVP_RSA_gen(2048);
	retiring = EVP_RSA_gen(2048);
	stranger = EVP_RSA_gen(2048);
	UNIT_CHECK(active && retiring && stranger, "keys");
	UNIT_CHECK(verifier_init(1000), "init");

	alice = sign(active, "k-active",
				 claims("alice", "6f1c2b0e-2d4a-4c1e-9a53-0a6b7c8d9e01", now - 10, now + 600));
	UNIT_CHECK(check(alice, &who) == VERIFY_NOT_READY, "nothing verifies before a state is loaded");
	UNIT_CHECK(!verifier_ready(), "not ready");

	s = state(now, json_pack("[[s, I]]", "00000000-0000-4000-8000-000000000001",
							 (json_int_t) (now + 900)),
			  json_pack("[[s, b, n]]", "mallory", 0));
	UNIT_CHECK(verifier_load(s, err, sizeof(err)), "a state loads: %s", err);
	json_decref(s);
	UNIT_CHECK(verifier_ready(), "ready");

	UNIT_CHECK(check(alice, &who) == VERIFY_OK, "a token of the active key");
	UNIT_CHECK(strcmp(who.subject, "alice") == 0 && strcmp(who.tenant, "acme") == 0 &&
			   who.has_scope && strcmp(who.scope, "document:read invoice:*") == 0 &&
			   who.expires == now + 600 && !who.api_key, "its identity");
	memset(&who, 0, sizeof(who));
	UNIT_CHECK(check(alice, &who) == VERIFY_OK && strcmp(who.subject, "alice") == 0 &&
			   strcmp(who.scope, "document:read invoice:*") == 0,
			   "again, from the token cache, the same identity");

	tok = sign(retiring, "k-retiring",
			   claims("alice", "6f1c2b0e-2d4a-4c1e-9a53-0a6b7c8d9e02", now - 10, now + 60));
	UNIT_CHECK(check(tok, &who) == VERIFY_OK, "a retiring key verifies until its verify_until");
	tok = sign(stranger, "k-active",
			   claims("alice", "6f1c2b0e-2d4a-4c1e-9a53-0a6b7c8d9e03", now - 10, now + 60));
	UNIT_CHECK(check(tok, &who) == VERIFY_INVALID, "another key under a known kid: refused");
	tok = sign(active, "k-unknown",
			   claims("alice", "6f1c2b0e-2d4a-4c1e-9a53-0a6b7c8d9e04", now - 10, now + 60));
	UNIT_CHECK(check(tok, &who) == VERIFY_INVALID, "an unknown kid: refused");
	tok = sign(active, "k-active",
			   claims("alice", "6f1c2b0e-2d4a-4c1e-9a53-0a6b7c8d9e05", now - 700, now - 31));
	UNIT_CHECK(check(tok, &who) == VERIFY_INVALID, "expired beyond the leeway");
	tok = sign(active, "k-active",
			   claims("alice", "6f1c2b0e-2d4a-4c1e-9a53-0a6b7c8d9e06", now - 700, now - 20));
	UNIT_CHECK(check(tok, &who) == VERIFY_OK, "expired within the 30 s leeway: still valid");
	tok = sign(active, "k-active",
			   json_pack("{s:s, s:s, s:s, s:s, s:I, s:I}", "iss", "someone", "aud", "warden",
						 "sub", "alice", "jti", "6f1c2b0e-2d4a-4c1e-9a53-0a6b7c8d9e07",
						 "iat", (json_int_t) now, "exp", (json_int_t) (now + 60)));
	UNIT_CHECK(check(tok, &who) == VERIFY_INVALID, "another issuer");
	tok = sign(active, "k-active", claims("alice", "not-a-uuid", now, now + 60));
	UNIT_CHECK(check(tok, &who) == VERIFY_INVALID, "a jti that warden never issues");
	tok = sign(active, "k-active",
			   claims("alice", "00000000-0000-4000-8000-000000000001", now, now + 60));
	UNIT_CHECK(check(tok, &who) == VERIFY_INVALID, "a revoked id from the state");
	tok = sign(active, "k-active",
			   claims("mallory", "6f1c2b0e-2d4a-4c1e-9a53-0a6b7c8d9e08", now, now + 60));
	UNIT_CHECK(check(tok, &who) == VERIFY_INVALID, "a disabled principal");
	UNIT_CHECK(check("a.b.c", &who) == VERIFY_INVALID, "garbage");

	/* changes as NOTIFY warden_tokens brings them, on cached tokens too */
	bob = sign(active, "k-active",
			   claims("bob", "6f1c2b0e-2d4a-4c1e-9a53-0a6b7c8d9e10", now - 5, now + 600));
	UNIT_CHECK(check(bob, &who) == VERIFY_OK && check(bob, &who) == VERIFY_OK, "bob, cached");
	verifier_revoke("6F1C2B0E-2D4A-4C1E-9A53-0A6B7C8D9E10", now + 600);
	UNIT_CHECK(check(bob, &who) == VERIFY_INVALID, "revoked by id (either case): refused from the cache too");
	verifier_principal("alice", true, now + 1);
	UNIT_CHECK(check(alice, &who) == VERIFY_INVALID, "revoke_all: tokens issued before are refused");
	verifier_principal("alice", true, INT64_MIN);
	UNIT_CHECK(check(alice, &who) == VERIFY_OK, "and accepted once the instant is gone again");
	verifier_principal("alice", false, INT64_MIN);
	UNIT_CHECK(check(alice, &who) == VERIFY_INVALID, "disabled");
	verifier_principal("alice", true, INT64_MIN);
	UNIT_CHECK(check(alice, &who) == VERIFY_OK, "enabled again");

	/* a load replaces everything: here a state without the active key */
	s = json_pack("{s:I, s:s, s:s, s:i, s:i, s:[o], s:[], s:[]}",
				  "policy_version", (json_int_t) 8, "issuer", "warden", "audience", "warden",
				  "leeway", 30, "max_token_size", 8192,
				  "keys", key_entry(retiring, "k-retiring", now + 600), "revoked", "principals");
	UNIT_CHECK(verifier_load(s, err, sizeof(err)), "a second load: %s", err);
	json_decref(s);
	UNIT_CHECK(check(alice, &who) == VERIFY_INVALID,
			   "a key gone from the state: its cached tokens are refused");
	s = json_pack("{s:s}", "issuer", "warden");
	UNIT_CHECK(!verifier_load(s, err, sizeof(err)) && err[0] != '\0', "a malformed state is refused");
	json_decref(s);
	UNIT_CHECK(verifier_ready(), "and the last good one stays");

	verifier_stats(&st);
	UNIT_CHECK(st.ok >= 8 && st.invalid >= 12 && st.cache_hits >= 3 && st.keys == 1,
			   "stats: %llu ok, %llu invalid, %llu hits, %zu keys",
			   (unsigned long long) st.ok, (unsigned long long) st.invalid,
			   (unsigned long long) st.cache_hits, st.keys);
	verifier_shutdown();
	EVP_PKEY_free(active);
	EVP_PKEY_free(retiring);
	EVP_PKEY_free(stranger);
	return UNIT_MAIN_END();
}
