/*
 * lvm_text.h - a small, bounded parser for LVM2's text metadata format
 * (the "config" syntax of lvm.conf and of the VG metadata in a PV's
 * metadata area): nested sections `name { ... }`, `key = value` with
 * quoted strings, integers and flat arrays `[ "pv0", 0 ]`, `#` comments.
 *
 * Used by fs_lvm.c only. It does not support: floats (the fraction is
 * dropped), nested arrays, or the `key/key` path syntax of lvm.conf.
 */
#ifndef IMG_LVM_TEXT_H
#define IMG_LVM_TEXT_H

#include <stddef.h>
#include <stdint.h>

#define LVM_TEXT_MAX	(16u << 20)	/* bytes of metadata text */
#define LVM_NODES_MAX	(1u << 20)	/* keys, values and array items */
#define LVM_DEPTH_MAX	32		/* section nesting */

enum lvm_kind { LVM_SECTION, LVM_STR, LVM_NUM, LVM_ARRAY };

/* One key (section, string, number or array) or one array element (key
 * NULL). Children and siblings are indices into lvm_cfg.v, -1 = none. */
struct lvm_node {
	const char *key;
	enum lvm_kind kind;
	const char *str;	/* LVM_STR */
	int64_t num;		/* LVM_NUM */
	int child;		/* LVM_SECTION, LVM_ARRAY: first child */
	int next;
};

struct lvm_cfg {
	struct lvm_node *v;	/* v[0] is the unnamed top-level section */
	size_t n, cap;
	char *strs;		/* keys and string values, NUL-terminated */
	size_t nstrs, capstrs;
};

/* Parses len bytes of text. 0, -EBADMSG (syntax error or a limit
 * exceeded: err says where) or -ENOMEM. Free with lvm_cfg_free, also
 * after an error. */
int lvm_cfg_parse(const char *text, size_t len, struct lvm_cfg *cfg,
    char *err, size_t errlen);
void lvm_cfg_free(struct lvm_cfg *cfg);

/* The child of section (or array) index sec named key, or NULL. */
const struct lvm_node *lvm_cfg_get(const struct lvm_cfg *cfg, int sec,
    const char *key);
/* Index of a node (for lvm_cfg_get on a child section). */
int lvm_cfg_index(const struct lvm_cfg *cfg, const struct lvm_node *n);
/* 0 and *out for a number child, -1 if missing or not a number. */
int lvm_cfg_num(const struct lvm_cfg *cfg, int sec, const char *key,
    int64_t *out);
/* The string child, or NULL. */
const char *lvm_cfg_str(const struct lvm_cfg *cfg, int sec, const char *key);
/* 1 if the array child key holds the string s. */
int lvm_cfg_array_has(const struct lvm_cfg *cfg, int sec, const char *key,
    const char *s);

#endif
