/*
 * tokenbucket.c
 *		Token buckets: the setting's text, GCRA, and the fixed-size table
 *		(see tokenbucket.h).
 */
#include "tokenbucket.h"

#include <stdio.h>
#include <string.h>

static const struct
{
	const char *name;
	uint64_t	us;
}			tokenbucket_units[] = {
	{"s", 1000000ULL},
	{"min", 60ULL * 1000000},
	{"h", 3600ULL * 1000000},
	{"d", 86400ULL * 1000000},
};

#define TOKENBUCKET_NUNITS (sizeof(tokenbucket_units) / sizeof(tokenbucket_units[0]))

static bool
tokenbucket_fail(char *err, size_t errlen, const char *msg)
{
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, "%s", msg);
	return false;
}

static const char *
tokenbucket_skip_blanks(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

/* Digits only, 1..max; *p moves past them. */
static bool
tokenbucket_number(const char **p, uint32_t max, uint32_t *out)
{
	const char *q = *p;
	uint64_t	v = 0;

	if (*q < '0' || *q > '9')
		return false;
	for (; *q >= '0' && *q <= '9'; q++)
	{
		v = v * 10 + (uint64_t) (*q - '0');
		if (v > max)
			return false;
	}
	if (v == 0)
		return false;
	*out = (uint32_t) v;
	*p = q;
	return true;
}

#define TOKENBUCKET_SYNTAX "must be off, or <count>/<s|min|h|d>[,burst=<n>] " \
	"(like 100/s,burst=200)"

bool
tokenbucket_parse(const char *text, TokenBucketSpec *out, char *err,
				  size_t errlen)
{
	TokenBucketSpec spec;
	const char *p = tokenbucket_skip_blanks(text);
	size_t		unit_len;
	size_t		i;

	memset(&spec, 0, sizeof(spec));
	if (strncmp(p, "off", 3) == 0 && *tokenbucket_skip_blanks(p + 3) == '\0')
	{
		*out = spec;
		return true;
	}
	if (!tokenbucket_number(&p, TOKENBUCKET_COUNT_MAX, &spec.count))
		return tokenbucket_fail(err, errlen, TOKENBUCKET_SYNTAX
								"; the count goes from 1 to 1000000");
	p = tokenbucket_skip_blanks(p);
	if (*p++ != '/')
		return tokenbucket_fail(err, errlen, TOKENBUCKET_SYNTAX);
	p = tokenbucket_skip_blanks(p);
	unit_len = strcspn(p, ", \t");
	for (i = 0; i < TOKENBUCKET_NUNITS; i++)
	{
		if (strlen(tokenbucket_units[i].name) == unit_len &&
			strncmp(p, tokenbucket_units[i].name, unit_len) == 0)
			break;
	}
	if (i == TOKENBUCKET_NUNITS)
		return tokenbucket_fail(err, errlen, TOKENBUCKET_SYNTAX
								"; the unit is s, min, h or d");
	spec.period_us = tokenbucket_units[i].us;
	p = tokenbucket_skip_blanks(p + unit_len);
	spec.burst = spec.count;
	if (*p == ',')
	{
		p = tokenbucket_skip_blanks(p + 1);
		if (strncmp(p, "burst", 5) != 0)
			return tokenbucket_fail(err, errlen, TOKENBUCKET_SYNTAX);
		p = tokenbucket_skip_blanks(p + 5);
		if (*p++ != '=')
			return tokenbucket_fail(err, errlen, TOKENBUCKET_SYNTAX);
		p = tokenbucket_skip_blanks(p);
		if (!tokenbucket_number(&p, TOKENBUCKET_BURST_MAX, &spec.burst))
			return tokenbucket_fail(err, errlen, TOKENBUCKET_SYNTAX
									"; the burst goes from 1 to 1000000");
		p = tokenbucket_skip_blanks(p);
	}
	if (*p != '\0')
		return tokenbucket_fail(err, errlen, TOKENBUCKET_SYNTAX);
	/* a microsecond per token at most: the count is capped well below */
	spec.interval_us = spec.period_us / spec.count;
	if ((uint64_t) spec.burst * spec.interval_us > TOKENBUCKET_FILL_MAX_US)
		return tokenbucket_fail(err, errlen,
								"an empty bucket would take more than a year to fill");
	spec.enabled = true;
	*out = spec;
	return true;
}

void
tokenbucket_format(const TokenBucketSpec *spec, char out[TOKENBUCKET_TEXT_MAX])
{
	size_t		i;

	if (!spec->enabled)
	{
		snprintf(out, TOKENBUCKET_TEXT_MAX, "off");
		return;
	}
	for (i = 0; i < TOKENBUCKET_NUNITS - 1; i++)
	{
		if (tokenbucket_units[i].us == spec->period_us)
			break;
	}
	snprintf(out, TOKENBUCKET_TEXT_MAX, "%u/%s,burst=%u", spec->count,
			 tokenbucket_units[i].name, spec->burst);
}

/*
 * One bucket: the wait its next token implies and what that leaves.
 * new_tat = max(tat, now) + interval; the bucket refuses when that lies
 * more than burst intervals ahead.
 */
void
tokenbucket_take(uint64_t *tat, const TokenBucketSpec *const *specs, int n,
				 uint64_t now_us, TokenBucketVerdict *v)
{
	uint64_t	new_tat[TOKENBUCKET_MAX];
	uint64_t	worst_retry = 0;
	uint32_t	fewest = UINT32_MAX;
	int			i;

	memset(v, 0, sizeof(*v));
	v->allowed = true;
	v->which = -1;
	for (i = 0; i < n && i < TOKENBUCKET_MAX; i++)
	{
		const TokenBucketSpec *s = specs[i];
		uint64_t	base;
		uint64_t	ahead;
		uint64_t	span;

		if (!s->enabled)
			continue;
		base = tat[i] > now_us ? tat[i] : now_us;
		new_tat[i] = base + s->interval_us;
		ahead = new_tat[i] - now_us;
		span = (uint64_t) s->burst * s->interval_us;
		if (ahead > span)
		{
			/* refused: which becomes the longest wait among the refusals */
			if (v->allowed || ahead - span > worst_retry)
			{
				worst_retry = ahead - span;
				v->which = i;
				v->limit = s->burst;
				v->remaining = 0;
				v->reset_us = base - now_us;
			}
			v->allowed = false;
		}
		else if (v->allowed)
		{
			uint32_t	left = (uint32_t) ((span - ahead) / s->interval_us);

			if (left < fewest)
			{
				fewest = left;
				v->which = i;
				v->limit = s->burst;
				v->remaining = left;
				v->reset_us = ahead;
			}
		}
	}
	v->retry_us = worst_retry;
	if (!v->allowed)
		return;
	for (i = 0; i < n && i < TOKENBUCKET_MAX; i++)
	{
		if (specs[i]->enabled)
			tat[i] = new_tat[i];
	}
}

/* --- the table -------------------------------------------------------------- */

void
tokenbucket_table_init(TokenBucketTable *t, TokenBucketSlot *slots, size_t nslots)
{
	t->slots = slots;
	t->nsets = nslots / TOKENBUCKET_WAYS;
}

/*
 * The slot of key in its set, or the one it replaces; slots already taken
 * by this request (taken[0..ntaken)) are never replaced.
 */
static TokenBucketSlot *
tokenbucket_slot(TokenBucketTable *t, const unsigned char *key,
				 TokenBucketSlot *const *taken, int ntaken)
{
	uint64_t	h = 0;
	TokenBucketSlot *set;
	TokenBucketSlot *victim = NULL;
	int			i;
	int			j;

	for (i = 0; i < 8; i++)
		h = (h << 8) | key[i];
	set = &t->slots[(h % t->nsets) * TOKENBUCKET_WAYS];
	for (i = 0; i < TOKENBUCKET_WAYS; i++)
	{
		if (set[i].used && memcmp(set[i].key, key, TOKENBUCKET_KEY_LEN) == 0)
			return &set[i];
	}
	for (i = 0; i < TOKENBUCKET_WAYS; i++)
	{
		TokenBucketSlot *s = &set[i];
		bool		mine = false;

		for (j = 0; j < ntaken; j++)
			mine |= taken[j] == s;
		if (mine)
			continue;
		if (!s->used)
		{
			victim = s;
			break;
		}
		/* a full bucket (tat passed) has the smallest tat of all */
		if (victim == NULL || s->tat < victim->tat)
			victim = s;
	}
	/* a set holds more slots than one request takes: never NULL */
	memcpy(victim->key, key, TOKENBUCKET_KEY_LEN);
	victim->used = true;
	victim->tat = 0;			/* full */
	return victim;
}

void
tokenbucket_table_take(TokenBucketTable *t,
					   const unsigned char (*keys)[TOKENBUCKET_KEY_LEN],
					   const TokenBucketSpec *const *specs, int n,
					   uint64_t now_us, TokenBucketVerdict *v)
{
	TokenBucketSlot *slot[TOKENBUCKET_MAX];
	uint64_t	tat[TOKENBUCKET_MAX];
	int			i;

	if (n > TOKENBUCKET_MAX)
		n = TOKENBUCKET_MAX;
	for (i = 0; i < n; i++)
	{
		slot[i] = tokenbucket_slot(t, keys[i], slot, i);
		tat[i] = slot[i]->tat;
	}
	tokenbucket_take(tat, specs, n, now_us, v);
	for (i = 0; i < n; i++)
		slot[i]->tat = tat[i];
}
