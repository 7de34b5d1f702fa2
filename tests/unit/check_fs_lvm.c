/*
 * check_fs_lvm.c - the LVM2 PV module against PVs made by the real LVM
 * tools on a loop device (pvcreate, vgcreate, lvcreate -an -Zn and
 * lvextend with --driverloaded n: no device-mapper needed), compared with
 * what lvs reports; crafted metadata (written into a real PV's metadata
 * area with correct checksums) for the LV types lvcreate cannot make
 * without device-mapper: thin pools, raid1, snapshots, multi-stripe and
 * multi-PV LVs; and damaged labels, headers and texts (syntax errors,
 * absurd numbers, overlaps, deep nesting, random flips), which must be
 * refused with a message, never crash. Needs root and lvm2; exits 77
 * otherwise.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testlib.h"
#include "codec.h"
#include "ctx.h"
#include "dev.h"
#include "byteorder.h"
#include "extents.h"
#include "formats.h"

#define MIB (1024ull * 1024)
#define MDA_OFF 4096ull		/* pvcreate's first metadata area */

/* lvm.sh DEV CMD ARGS: an LVM command that sees only DEV, keeps its
 * state in the test directory and never waits for udev */
static void
write_lvm_sh(void)
{
	FILE *f = fopen(test_path("lvm.sh"), "w");

	ck_assert_ptr_nonnull(f);
	fprintf(f, "dev=$1; cmd=$2; shift 2\n"
	    "export LVM_SYSTEM_DIR='%s' LVM_SUPPRESS_FD_WARNINGS=1\n"
	    "exec $cmd --config \"devices { filter=[\\\"a|^$dev\\$|\\\", "
	    "\\\"r|.*|\\\"] obtain_device_list_from_udev=0 use_devicesfile=0 "
	    "scan_lvs=0 } activation { udev_sync=0 udev_rules=0 monitoring=0 }"
	    " global { use_lvmpolld=0 }\" \"$@\"\n", test_path("lvmetc"));
	fclose(f);
}

/* A 64 MiB PV file with VG vg (1 MiB extents); cmds run with $L the loop
 * device and $LVM the wrapper. */
static const char *
make_pv(const char *name, const char *vg, const char *cmds)
{
	const char *img = test_path(name);

	write_lvm_sh();
	test_sh("cd '%s' && mkdir -p lvmetc && rm -f '%s' && truncate -s 64M '%s'"
	    " && L=$(losetup -f --show '%s') || exit 1; LVM=\"sh ./lvm.sh $L\"; "
	    "( set -e; $LVM pvcreate $L; %s%s%s %s ) >> lvm.log 2>&1; rc=$?; "
	    "losetup -d $L; [ $rc = 0 ] || cat lvm.log >&2; exit $rc",
	    test_tmpdir(), img, img, img, vg ? "$LVM vgcreate -s 1M " : "",
	    vg ? vg : "", vg ? " $L;" : "", cmds);
	return img;
}

static uint32_t
lvm_crc(const void *buf, size_t len)
{
	return ~img_crc32(~0xf597a6cfu, buf, len);
}

/* Replaces the current metadata text of the PV's first metadata area */
static void
put_metadata(const char *img, const char *text, size_t len)
{
	uint8_t h[512];
	int fd = open(img, O_RDWR);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pread(fd, h, sizeof(h), MDA_OFF), sizeof(h));
	ck_assert_uint_lt(len, img_le64(h + 32) - 512);
	ck_assert_int_eq(pwrite(fd, text, len, MDA_OFF + 512), (ssize_t)len);
	img_put_le64(h + 40, 512);
	img_put_le64(h + 48, len);
	img_put_le32(h + 56, lvm_crc(text, len));
	img_put_le32(h + 60, 0);
	img_put_le32(h, lvm_crc(h + 4, 508));
	ck_assert_int_eq(pwrite(fd, h, sizeof(h), MDA_OFF), sizeof(h));
	close(fd);
}

static void
flip_byte(const char *img, uint64_t off)
{
	uint8_t b;
	int fd = open(img, O_RDWR);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pread(fd, &b, 1, off), 1);
	b ^= 0x5a;
	ck_assert_int_eq(pwrite(fd, &b, 1, off), 1);
	close(fd);
}

/* The PV UUID from the label (sector 1 after pvcreate), with dashes */
static void
pv_uuid(const char *img, char out[40])
{
	static const int groups[] = { 6, 4, 4, 4, 4, 4, 6 };
	char raw[32];
	int fd = open(img, O_RDONLY), k = 0;

	ck_assert_int_eq(pread(fd, raw, 32, 512 + 32), 32);
	close(fd);
	for (int g = 0, n = 0; g < 7; g++) {
		for (int i = 0; i < groups[g]; i++)
			out[n++] = raw[k++];
		out[n++] = g < 6 ? '-' : '\0';
	}
}

struct scan {
	struct test_fs_scan s;
	struct fs_subvol *vols;
	unsigned nvols;
	int vols_rc;
};

static void
scan_open(struct scan *sc, const char *img)
{
	memset(sc, 0, sizeof(*sc));
	test_fs_scan_open(&sc->s, &fs_lvm_ops, "LVM2_member", img, 0, 0);
	if (sc->s.probe_rc == 0 && sc->s.used_rc == 0)
		sc->vols_rc = fs_lvm_ops.sub_volumes(sc->s.dev, &sc->s.fs,
		    &sc->vols, &sc->nvols, sc->s.ctx);
	img_extents_normalize(&sc->s.used);
}

static void
scan_close(struct scan *sc)
{
	free(sc->vols);
	test_fs_scan_close(&sc->s);
}

#define ck_assert_scan_ok(sc) do {					\
	ck_assert_msg((sc)->s.probe_rc == 0, "probe rc=%d: %s",		\
	    (sc)->s.probe_rc, img_ctx_message((sc)->s.ctx));		\
	ck_assert_img_ok((sc)->s.used_rc, (sc)->s.ctx);			\
	ck_assert_img_ok((sc)->vols_rc, (sc)->s.ctx);			\
} while (0)

static const struct fs_subvol *
find_vol(const struct scan *sc, const char *name)
{
	for (unsigned i = 0; i < sc->nvols; i++)
		if (strcmp(sc->vols[i].name, name) == 0)
			return &sc->vols[i];
	return NULL;
}

static void
assert_vol(const struct scan *sc, const char *name, uint64_t off,
    uint64_t len)
{
	const struct fs_subvol *v = find_vol(sc, name);

	ck_assert_msg(v != NULL, "no volume %s", name);
	ck_assert_uint_eq(v->off, off);
	ck_assert_uint_eq(v->len, len);
	/* the scanner scans it: the module itself does not store it */
	ck_assert_uint_eq(img_extents_covered(&sc->s.used, off, len), 0);
}

/* label sectors and the whole first metadata area are stored */
static void
assert_pv_meta(const struct scan *sc)
{
	ck_assert_uint_eq(img_extents_covered(&sc->s.used, 0, 2048), 2048);
	ck_assert_uint_eq(img_extents_covered(&sc->s.used, MDA_OFF,
	    MIB - MDA_OFF), MIB - MDA_OFF);
}

/* The first PE of an LV segment, as lvs reports it */
static long long
lvs_first_pe(const char *img, const char *lv)
{
	return test_sh_num("cd '%s' && L=$(losetup -r -f --show '%s') && "
	    "sh ./lvm.sh $L lvs --noheadings -o seg_pe_ranges %s 2>/dev/null "
	    "| head -1 | sed 's/.*://; s/-.*//'; losetup -d $L", test_tmpdir(),
	    img, lv);
}

START_TEST(real_tools)
{
	const char *img = make_pv("pv.img", "vgu",
	    "D='--driverloaded n'; $LVM lvcreate $D -an -Zn -L 8M -n ext vgu; "
	    "$LVM lvcreate $D -an -Zn -L 4M -n two vgu; "
	    "$LVM lvcreate $D -an -Zn -L 2M -n fill vgu; "
	    "$LVM lvextend $D -L +3M vgu/two; "
	    "$LVM lvcreate $D -an -Zn -L 24M -n xfs vgu;");
	const struct fs_subvol *two;
	struct scan sc;

	test_sh("mke2fs -q -F -t ext4 '%s' 8M && dd if='%s' of='%s' bs=1M "
	    "seek=1 conv=notrunc status=none", test_path("e.img"),
	    test_path("e.img"), img);
	ck_assert_int_eq(lvs_first_pe(img, "vgu/ext"), 0);
	ck_assert_int_eq(lvs_first_pe(img, "vgu/xfs"), 17);
	scan_open(&sc, img);
	ck_assert_scan_ok(&sc);
	assert_pv_meta(&sc);
	ck_assert_uint_eq(sc.nvols, 4);
	assert_vol(&sc, "vgu/ext", MIB, 8 * MIB);
	assert_vol(&sc, "vgu/fill", 13 * MIB, 2 * MIB);
	assert_vol(&sc, "vgu/xfs", 18 * MIB, 24 * MIB);
	/* two: extents 8-11 and 14-16, not adjacent: handed over as one
	 * volume in two pieces, in logical order */
	two = find_vol(&sc, "vgu/two");
	ck_assert_ptr_nonnull(two);
	ck_assert_uint_eq(two->npieces, 2);
	ck_assert_uint_eq(two->len, 7 * MIB);
	ck_assert_uint_eq(two->pieces[0].dev_off, 9 * MIB);
	ck_assert_uint_eq(two->pieces[0].len, 4 * MIB);
	ck_assert_uint_eq(two->pieces[1].dev_off, 15 * MIB);
	ck_assert_uint_eq(two->pieces[1].len, 3 * MIB);
	ck_assert_uint_eq(img_extents_covered(&sc.s.used, 9 * MIB, 4 * MIB), 0);
	ck_assert_uint_eq(img_extents_covered(&sc.s.used, 15 * MIB, 3 * MIB), 0);
	ck_assert_uint_eq(img_extents_total(&sc.s.used), 2048 +
	    (MIB - MDA_OFF));
	ck_assert_uint_eq(sc.s.fs.block_size, MIB);
	ck_assert_uint_eq(sc.s.fs.block_count, 63);
	ck_assert_msg(strstr(sc.s.desc, "VG 'vgu'") &&
	    strstr(sc.s.desc, "4 LVs") && strstr(sc.s.desc, "41 of 63"),
	    "describe: %s", sc.s.desc);
	scan_close(&sc);
}
END_TEST

START_TEST(orphan_and_no_mda)
{
	const char *img = make_pv("orphan.img", NULL, "");
	struct scan sc;

	scan_open(&sc, img);
	ck_assert_scan_ok(&sc);
	assert_pv_meta(&sc);
	ck_assert_uint_eq(sc.nvols, 0);
	ck_assert_uint_eq(img_extents_total(&sc.s.used), 2048 + MIB - MDA_OFF);
	ck_assert_ptr_nonnull(strstr(sc.s.desc, "not in a volume group"));
	scan_close(&sc);

	test_sh("cd '%s' && L=$(losetup -f --show '%s') && "
	    "sh ./lvm.sh $L pvcreate -ff -y --metadatacopies 0 $L >> lvm.log 2>&1;"
	    " rc=$?; losetup -d $L; exit $rc", test_tmpdir(), img);
	scan_open(&sc, img);
	ck_assert_int_lt(sc.s.probe_rc, 0);
	ck_assert_ptr_nonnull(strstr(img_ctx_message(sc.s.ctx),
	    "no metadata area"));
	scan_close(&sc);
}
END_TEST

/* What lvcreate cannot make without device-mapper, in the metadata form
 * LVM2 writes: a thin pool (its _tdata and _tmeta hidden), a thin LV,
 * raid1 (images hidden, one leg on another PV), a snapshot whose cow LV
 * is visible but used as cow_store, a two-stripe LV and a linear LV
 * spanning two PVs. Only "plain" is a sub-volume. */
static const char crafted_fmt[] =
	"vgc {\n id = \"x\"\n seqno = 3\n extent_size = 2048 # 1 MiB\n"
	" physical_volumes {\n  pv0 { id = \"%s\" pe_start = 2048 pe_count = 63 }\n"
	"  pv1 { id = \"aaaaaa-bbbb-cccc-dddd-eeee-ffff-gggggg\" pe_start = 2048"
	" pe_count = 10 }\n }\n logical_volumes {\n"
	"%s"
	" }\n}\n# Generated by a test\ncontents = \"Text Format Volume Group\"\n"
	"version = 1\ndescription = \"a \\\"quoted\\\" word\"\n";

#define SEG(n, le, cnt, rest) \
	" segment" #n " { start_extent = " #le " extent_count = " #cnt " " rest " }\n"
#define LIN(pv, pe) "type = \"striped\" stripe_count = 1 stripes = [ \"" pv "\", " #pe " ]"
#define VIS "status = [\"READ\", \"WRITE\", \"VISIBLE\"] flags = []\n"
#define HID "status = [\"READ\", \"WRITE\"]\n"

static const char crafted_lvs[] =
	"plain {\n" VIS SEG(1, 0, 8, LIN("pv0", 0)) "}\n"
	"pool {\n" VIS SEG(1, 0, 4, "type = \"thin-pool\" metadata = \"pool_tmeta\""
	    " pool = \"pool_tdata\" transaction_id = 0 chunk_size = 128") "}\n"
	"pool_tdata {\n" HID SEG(1, 0, 4, LIN("pv0", 8)) "}\n"
	"pool_tmeta {\n" HID SEG(1, 0, 1, LIN("pv0", 12)) "}\n"
	"thin1 {\n" VIS SEG(1, 0, 16, "type = \"thin\" thin_pool = \"pool\" "
	    "transaction_id = 0 device_id = 1") "}\n"
	"r1 {\n" VIS SEG(1, 0, 2, "type = \"raid1\" device_count = 2 raids = "
	    "[ \"r1_rmeta_0\", \"r1_rimage_0\", \"r1_rmeta_1\", \"r1_rimage_1\" ]") "}\n"
	"r1_rimage_0 {\n" HID SEG(1, 0, 2, LIN("pv0", 13)) "}\n"
	"r1_rmeta_0 {\n" HID SEG(1, 0, 1, LIN("pv0", 15)) "}\n"
	"r1_rimage_1 {\n" HID SEG(1, 0, 2, LIN("pv1", 0)) "}\n"
	"cow {\n" VIS SEG(1, 0, 2, LIN("pv0", 16)) "}\n"
	"snapshot0 {\n" VIS SEG(1, 0, 8, "type = \"snapshot\" chunk_size = 8 "
	    "origin = \"plain\" cow_store = \"cow\"") "}\n"
	"str2 {\n" VIS SEG(1, 0, 4, "type = \"striped\" stripe_count = 2 "
	    "stripe_size = 128 stripes = [ \"pv0\", 18, \"pv1\", 2 ]") "}\n"
	"span {\n" VIS SEG(1, 0, 2, LIN("pv0", 20)) SEG(2, 2, 2, LIN("pv1", 4)) "}\n"
	"cont {\n" VIS SEG(1, 0, 3, LIN("pv0", 30)) SEG(2, 3, 2, LIN("pv0", 33))
	    "}\n";

/* An orphan PV made by pvcreate, with crafted metadata lvs */
static const char *
crafted_pv(const char *name, const char *lvs)
{
	const char *img = make_pv(name, NULL, "");
	char uuid[40], *text;
	size_t len = strlen(crafted_fmt) + strlen(lvs) + 64;

	pv_uuid(img, uuid);
	ck_assert_ptr_nonnull(text = malloc(len));
	snprintf(text, len, crafted_fmt, uuid, lvs);
	put_metadata(img, text, strlen(text));
	free(text);
	return img;
}

START_TEST(crafted_types)
{
	const char *img = crafted_pv("crafted.img", crafted_lvs);
	struct scan sc;

	scan_open(&sc, img);
	ck_assert_scan_ok(&sc);
	assert_pv_meta(&sc);
	ck_assert_uint_eq(sc.nvols, 2);
	assert_vol(&sc, "vgc/plain", MIB, 8 * MIB);
	assert_vol(&sc, "vgc/cont", 31 * MIB, 5 * MIB);
	/* extents 8-21: pool data and metadata, raid image and meta, cow,
	 * one stripe, the part of span on this PV */
	ck_assert_uint_eq(img_extents_covered(&sc.s.used, 9 * MIB, 14 * MIB),
	    14 * MIB);
	ck_assert_uint_eq(img_extents_total(&sc.s.used), 2048 +
	    (MIB - MDA_OFF) + 14 * MIB);
	ck_assert_ptr_nonnull(strstr(sc.s.desc, "27 of 63"));
	scan_close(&sc);
}
END_TEST

static void
assert_refused(const char *img, const char *why, const char *want)
{
	struct scan sc;

	scan_open(&sc, img);
	ck_assert_msg(sc.s.probe_rc < 0 || sc.s.probe_rc == 1,
	    "%s: probe rc=%d", why, sc.s.probe_rc);
	if (sc.s.probe_rc < 0)
		ck_assert_msg(strstr(img_ctx_message(sc.s.ctx), want),
		    "%s: message '%s' lacks '%s'", why,
		    img_ctx_message(sc.s.ctx), want);
	scan_close(&sc);
}

static const struct {
	const char *lvs, *want;
} bad_lvs[] = {
	{ "x {", "missing '}'" },
	{ "x { y = }", "expected a value" },
	{ "x { y = \"open }", "metadata text line" },
	{ "x { y = [ 1 2 ] }", "expected ',' or ']'" },
	{ "x { y = 99999999999999999999 }", "out of range" },
	{ "x {\n" VIS SEG(1, 0, 8, LIN("pv0", 60)) "}\n", "beyond the PV" },
	{ "x {\n" VIS SEG(1, 0, 8, LIN("pv0", -1)) "}\n", "beyond the PV" },
	{ "x {\n" VIS SEG(1, 0, 0, LIN("pv0", 1)) "}\n", "malformed segment" },
	{ "x {\n" VIS SEG(1, 0, 3, "type = \"striped\" stripe_count = 2 "
	    "stripes = [\"pv0\", 1, \"pv1\", 1]") "}\n", "malformed segment" },
	{ "x {\n" VIS SEG(1, 0, 8, LIN("pv0", 0)) "}\ny {\n" VIS
	    SEG(1, 0, 2, LIN("pv0", 7)) "}\n", "overlap" },
};

START_TEST(damaged_text)
{
	const char *img = make_pv("bad.img", NULL, "");
	char uuid[40], text[8192], deep[600] = "";

	pv_uuid(img, uuid);
	for (size_t i = 0; i < sizeof(bad_lvs) / sizeof(*bad_lvs); i++) {
		snprintf(text, sizeof(text), crafted_fmt, uuid, bad_lvs[i].lvs);
		put_metadata(img, text, strlen(text));
		assert_refused(img, bad_lvs[i].lvs, bad_lvs[i].want);
	}
	for (int i = 0; i < 40; i++)
		strcat(deep, "a { ");
	snprintf(text, sizeof(text), crafted_fmt, uuid, deep);
	put_metadata(img, text, strlen(text));
	assert_refused(img, "deep", "nested too deeply");
	snprintf(text, sizeof(text), crafted_fmt, "not-this-pv", "");
	put_metadata(img, text, strlen(text));
	assert_refused(img, "other pv", "not in the metadata");
	snprintf(text, sizeof(text), "vgc { extent_size = 0 }");
	put_metadata(img, text, strlen(text));
	assert_refused(img, "extent size", "extent size");
	snprintf(text, sizeof(text), crafted_fmt, uuid, "");
	put_metadata(img, text, strlen(text));
	flip_byte(img, MDA_OFF + 512 + 10);
	assert_refused(img, "text crc", "checksum mismatch");
	put_metadata(img, text, strlen(text));
	flip_byte(img, MDA_OFF + 100);
	assert_refused(img, "header crc", "checksum mismatch");
	put_metadata(img, text, strlen(text));
	flip_byte(img, MDA_OFF + 8);
	assert_refused(img, "header magic", "bad metadata area header");
	put_metadata(img, text, strlen(text));
	flip_byte(img, 512 + 40);
	assert_refused(img, "label crc", "label checksum");
}
END_TEST

/* Random bytes flipped in valid metadata (the checksum kept right):
 * every result is a clean accept or a refusal with a message. */
START_TEST(fuzz_text)
{
	const char *img = make_pv("fuzz.img", NULL, "");
	char uuid[40], text[8192];
	uint8_t rnd[4];
	size_t len;

	pv_uuid(img, uuid);
	snprintf(text, sizeof(text), crafted_fmt, uuid, crafted_lvs);
	len = strlen(text);
	for (unsigned i = 0; i < 300; i++) {
		char t[8192];
		struct scan sc;

		memcpy(t, text, len);
		for (unsigned k = 0; k < 1 + i % 4; k++) {
			test_fill_random(rnd, sizeof(rnd), i * 7 + k + 1);
			t[img_le32(rnd) % len] = "{}[]=\",#9-x \n"[rnd[3] % 13];
		}
		put_metadata(img, t, len);
		scan_open(&sc, img);
		if (sc.s.probe_rc < 0)
			ck_assert_str_ne(img_ctx_message(sc.s.ctx), "");
		else if (sc.s.probe_rc == 0)
			for (unsigned v = 0; v < sc.nvols; v++)
				ck_assert_uint_le(sc.vols[v].off + sc.vols[v].len,
				    64 * MIB);
		scan_close(&sc);
	}
}
END_TEST

static Suite *
lvm_suite(void)
{
	Suite *s = suite_create("fs_lvm");
	TCase *tc = tcase_create("lvm");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, real_tools);
	tcase_add_test(tc, orphan_and_no_mda);
	tcase_add_test(tc, crafted_types);
	tcase_add_test(tc, damaged_text);
	tcase_add_test(tc, fuzz_text);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(lvm_suite());

	if (!test_have("pvcreate") || !test_have("losetup") ||
	    !test_have("mke2fs"))
		return 77;	/* automake SKIP: no lvm2 */
	if (geteuid() != 0)
		return 77;	/* pvcreate needs a loop device */
	return test_run_suite(sr, "check_fs_lvm", "/tmp");
}
