/*
 * main.c - imgtool's entry point: --version, --help, and the command table.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "cmd.h"

static const struct cmd commands[] = {
	{ "backup",  cmd_backup,  "copy the used blocks of a disk or partition into an image" },
	{ "restore", cmd_restore, "write an image back to a disk, partition or file" },
	{ "clone",   cmd_clone,   "copy the used blocks of a disk straight to another, and compare" },
	{ "verify",  cmd_verify,  "check every chunk and checksum of an image" },
	{ "info",    cmd_info,    "describe an image: sizes, partitions, identity" },
	{ "mount",   cmd_mount,   "serve an image read-only as files, or mount a filesystem in it" },
	{ "umount",  cmd_umount,  "undo imgtool mount" },
	{ "export",  cmd_export,  "write the disk or a partition as a sparse raw file" },
};

#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static void
print_help(FILE *f)
{
	fprintf(f, "usage: imgtool <command> [options] [arguments]\n"
	    "       imgtool --version | --help\n\ncommands:\n");
	for (size_t i = 0; i < N_COMMANDS; i++)
		fprintf(f, "  %-9s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\n'imgtool <command> --help' describes a command; "
	    "imgtool(8) has the details.\n"
	    "exit codes: 0 ok, 1 failed, 2 usage, 3 image damaged, "
	    "4 target refused\n");
}

int
main(int argc, char **argv)
{
	const char *name = argc > 1 ? argv[1] : NULL;

	if (!name) {
		print_help(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0 ||
	    strcmp(name, "help") == 0) {
		print_help(stdout);
		return EXIT_OK;
	}
	if (strcmp(name, "--version") == 0 || strcmp(name, "-V") == 0) {
		printf("imgtool %s (image format version 1)\n", PACKAGE_VERSION);
		return EXIT_OK;
	}
	for (size_t i = 0; i < N_COMMANDS; i++)
		if (strcmp(name, commands[i].name) == 0)
			return commands[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "imgtool: '%s' is not an imgtool command\n\n", name);
	print_help(stderr);
	return EXIT_USAGE;
}
