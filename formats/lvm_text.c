/*
 * lvm_text.c - parser for LVM2 text metadata (see lvm_text.h).
 *
 * Grammar (LVM2 lib/config/config.c, simplified to what metadata uses):
 *   entries := ( WORD '=' value | WORD '{' entries '}' )*
 *   value   := STRING | NUMBER | '[' [ scalar ( ',' scalar )* ] ']'
 * Every limit is checked: text length, node count, nesting depth, number
 * range. Keys and strings are copied into one arena allocated up front
 * (a token never needs more than twice its source length), so pointers
 * into it stay valid.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lvm_text.h"

struct lexer {
	const char *p, *end;
	struct lvm_cfg *cfg;
	char *err;
	size_t errlen;
	unsigned line;
};

static int
fail(struct lexer *lx, const char *what)
{
	snprintf(lx->err, lx->errlen, "metadata text line %u: %s", lx->line,
	    what);
	return -EBADMSG;
}

static void
skip_space(struct lexer *lx)
{
	while (lx->p < lx->end) {
		if (*lx->p == '#') {
			while (lx->p < lx->end && *lx->p != '\n')
				lx->p++;
		} else if (isspace((unsigned char)*lx->p)) {
			if (*lx->p == '\n')
				lx->line++;
			lx->p++;
		} else {
			return;
		}
	}
}

static int
is_word(char c)
{
	return isalnum((unsigned char)c) || strchr("_.+-", c) != NULL;
}

/* Copies a bare word (a key or a number) into the arena. */
static const char *
read_word(struct lexer *lx)
{
	struct lvm_cfg *c = lx->cfg;
	char *out = c->strs + c->nstrs;

	if (lx->p >= lx->end || !is_word(*lx->p))
		return NULL;
	while (lx->p < lx->end && is_word(*lx->p))
		c->strs[c->nstrs++] = *lx->p++;
	c->strs[c->nstrs++] = '\0';
	return out;
}

/* A "quoted" string with backslash escapes, into the arena. */
static const char *
read_string(struct lexer *lx)
{
	struct lvm_cfg *c = lx->cfg;
	char *out = c->strs + c->nstrs;

	lx->p++;		/* opening quote */
	while (lx->p < lx->end && *lx->p != '"') {
		if (*lx->p == '\\' && lx->p + 1 < lx->end)
			lx->p++;
		if (*lx->p == '\n')
			lx->line++;
		c->strs[c->nstrs++] = *lx->p++;
	}
	if (lx->p >= lx->end)
		return NULL;
	lx->p++;		/* closing quote */
	c->strs[c->nstrs++] = '\0';
	return out;
}

static int
new_node(struct lexer *lx, const char *key, enum lvm_kind kind)
{
	struct lvm_cfg *c = lx->cfg;

	if (c->n >= LVM_NODES_MAX)
		return fail(lx, "too many entries");
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 256;
		struct lvm_node *v = realloc(c->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		c->v = v;
		c->cap = cap;
	}
	memset(&c->v[c->n], 0, sizeof(c->v[c->n]));
	c->v[c->n].key = key;
	c->v[c->n].kind = kind;
	c->v[c->n].child = c->v[c->n].next = -1;
	return (int)c->n++;
}

/* Links node i as the last child of parent (tail tracked by *last). */
static void
link_child(struct lvm_cfg *c, int parent, int *last, int i)
{
	if (*last < 0)
		c->v[parent].child = i;
	else
		c->v[*last].next = i;
	*last = i;
}

static int
parse_number(struct lexer *lx, const char *w, int64_t *out)
{
	const char *s = w;
	int neg = *s == '-';
	uint64_t v = 0;

	if (neg || *s == '+')
		s++;
	if (!isdigit((unsigned char)*s))
		return fail(lx, "expected a value");
	for (; isdigit((unsigned char)*s); s++) {
		if (v > (uint64_t)INT64_MAX / 10)
			return fail(lx, "number out of range");
		v = v * 10 + (uint64_t)(*s - '0');
	}
	if (*s == '.')		/* a float: keep the integer part */
		for (s++; isdigit((unsigned char)*s); s++)
			;
	if (*s || v > (uint64_t)INT64_MAX)
		return fail(lx, "malformed number");
	*out = neg ? -(int64_t)v : (int64_t)v;
	return 0;
}

/* A string or a number, as a new node with the given key. */
static int
parse_scalar(struct lexer *lx, const char *key)
{
	const char *s;
	int i, rc;

	skip_space(lx);
	if (lx->p < lx->end && *lx->p == '"') {
		if (!(s = read_string(lx)))
			return fail(lx, "unterminated string");
		if ((i = new_node(lx, key, LVM_STR)) < 0)
			return i;
		lx->cfg->v[i].str = s;
		return i;
	}
	if (!(s = read_word(lx)))
		return fail(lx, "expected a value");
	if ((i = new_node(lx, key, LVM_NUM)) < 0)
		return i;
	rc = parse_number(lx, s, &lx->cfg->v[i].num);
	return rc < 0 ? rc : i;
}

static int
parse_array(struct lexer *lx, const char *key)
{
	int arr = new_node(lx, key, LVM_ARRAY), last = -1, i;

	if (arr < 0)
		return arr;
	lx->p++;		/* '[' */
	for (;;) {
		skip_space(lx);
		if (lx->p < lx->end && *lx->p == ']' && last < 0)
			break;
		if ((i = parse_scalar(lx, NULL)) < 0)
			return i;
		link_child(lx->cfg, arr, &last, i);
		skip_space(lx);
		if (lx->p < lx->end && *lx->p == ',') {
			lx->p++;
			continue;
		}
		if (lx->p < lx->end && *lx->p == ']')
			break;
		return fail(lx, "expected ',' or ']' in an array");
	}
	lx->p++;		/* ']' */
	return arr;
}

/* Entries up to '}' (depth > 0) or the end of the text (depth 0). */
static int
parse_entries(struct lexer *lx, int sec, unsigned depth)
{
	int last = -1, i;
	const char *key;

	if (depth > LVM_DEPTH_MAX)
		return fail(lx, "sections nested too deeply");
	for (;;) {
		skip_space(lx);
		if (lx->p >= lx->end)
			return depth ? fail(lx, "missing '}'") : 0;
		if (*lx->p == '}') {
			if (!depth)
				return fail(lx, "unexpected '}'");
			lx->p++;
			return 0;
		}
		if (!(key = read_word(lx)))
			return fail(lx, "expected a name");
		skip_space(lx);
		if (lx->p < lx->end && *lx->p == '{') {
			lx->p++;
			if ((i = new_node(lx, key, LVM_SECTION)) < 0)
				return i;
			link_child(lx->cfg, sec, &last, i);
			if ((i = parse_entries(lx, i, depth + 1)) < 0)
				return i;
			continue;
		}
		if (lx->p >= lx->end || *lx->p != '=')
			return fail(lx, "expected '=' or '{'");
		lx->p++;
		skip_space(lx);
		if (lx->p < lx->end && *lx->p == '[')
			i = parse_array(lx, key);
		else
			i = parse_scalar(lx, key);
		if (i < 0)
			return i;
		link_child(lx->cfg, sec, &last, i);
	}
}

int
lvm_cfg_parse(const char *text, size_t len, struct lvm_cfg *cfg, char *err,
    size_t errlen)
{
	struct lexer lx = {
		.p = text, .end = text + len, .cfg = cfg, .err = err,
		.errlen = errlen, .line = 1,
	};
	int rc;

	memset(cfg, 0, sizeof(*cfg));
	if (len > LVM_TEXT_MAX)
		return fail(&lx, "metadata text too long");
	cfg->capstrs = 2 * len + 2;
	if (!(cfg->strs = malloc(cfg->capstrs)))
		return -ENOMEM;
	if ((rc = new_node(&lx, "", LVM_SECTION)) < 0)
		return rc;
	rc = parse_entries(&lx, 0, 0);
	return rc < 0 ? rc : 0;
}

void
lvm_cfg_free(struct lvm_cfg *cfg)
{
	free(cfg->v);
	free(cfg->strs);
	memset(cfg, 0, sizeof(*cfg));
}

const struct lvm_node *
lvm_cfg_get(const struct lvm_cfg *cfg, int sec, const char *key)
{
	if (sec < 0 || (size_t)sec >= cfg->n)
		return NULL;
	for (int i = cfg->v[sec].child; i >= 0; i = cfg->v[i].next)
		if (cfg->v[i].key && strcmp(cfg->v[i].key, key) == 0)
			return &cfg->v[i];
	return NULL;
}

int
lvm_cfg_index(const struct lvm_cfg *cfg, const struct lvm_node *n)
{
	return n ? (int)(n - cfg->v) : -1;
}

int
lvm_cfg_num(const struct lvm_cfg *cfg, int sec, const char *key,
    int64_t *out)
{
	const struct lvm_node *n = lvm_cfg_get(cfg, sec, key);

	if (!n || n->kind != LVM_NUM)
		return -1;
	*out = n->num;
	return 0;
}

const char *
lvm_cfg_str(const struct lvm_cfg *cfg, int sec, const char *key)
{
	const struct lvm_node *n = lvm_cfg_get(cfg, sec, key);

	return n && n->kind == LVM_STR ? n->str : NULL;
}

int
lvm_cfg_array_has(const struct lvm_cfg *cfg, int sec, const char *key,
    const char *s)
{
	const struct lvm_node *a = lvm_cfg_get(cfg, sec, key);

	if (!a || a->kind != LVM_ARRAY)
		return 0;
	for (int i = a->child; i >= 0; i = cfg->v[i].next)
		if (cfg->v[i].kind == LVM_STR && strcmp(cfg->v[i].str, s) == 0)
			return 1;
	return 0;
}
