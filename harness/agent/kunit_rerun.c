// SPDX-License-Identifier: GPL-2.0
/*
 * --kunit GLOB: the KUnit suites of a loaded module run again the way a
 * developer re-runs one, by writing to /sys/kernel/debug/kunit/<suite>/run,
 * each reported as one more KTAP suite from its results file.  The module
 * ran them once when it was loaded, so this is every suite's second run:
 * what suite_init builds (the parameter tables) must come out the same.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"

#define KUNIT_DEBUGFS	"/sys/kernel/debug/kunit"

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char * const *)a, *(char * const *)b);
}

int kunit_list_suites(const char *glob, char ***names)
{
	DIR *dir = opendir(KUNIT_DEBUGFS);
	char **list = NULL, **grown;
	struct dirent *de;
	int n = 0;

	if (!dir)
		return -errno;
	while ((de = readdir(dir))) {
		if (de->d_name[0] == '.' || fnmatch(glob, de->d_name, 0))
			continue;
		grown = realloc(list, (n + 1) * sizeof(*list));
		if (!grown)
			goto nomem;
		list = grown;
		list[n] = strdup(de->d_name);
		if (!list[n])
			goto nomem;
		n++;
	}
	closedir(dir);
	qsort(list, n, sizeof(*list), by_name);
	*names = list;
	return n;
nomem:
	kunit_free_suites(list, n);
	closedir(dir);
	return -ENOMEM;
}

void kunit_free_suites(char **names, int n)
{
	while (n > 0)
		free(names[--n]);
	free(names);
}

/* The write returns when the suite has run (in kthreads of its own). */
static int kunit_run(const char *suite)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), KUNIT_DEBUGFS "/%s/run", suite);
	return write_knob(path, "1\n");
}

/*
 * The results file is a whole KTAP document of one suite: drop its
 * version and plan lines and renumber its last line, which leaves the
 * suite as the @number-th subtest of ours.  Returns whether it passed.
 */
static bool kunit_print_results(const char *suite, unsigned int number,
				FILE *f)
{
	char line[1024], last[1024] = "";
	bool head = true;

	while (fgets(line, sizeof(line), f)) {
		if (head && (!strncmp(line, "KTAP version", 12) ||
			     !strncmp(line, "1..", 3)))
			continue;
		head = false;
		if (last[0])
			fputs(last, stdout);
		snprintf(last, sizeof(last), "%s", line);
	}
	if (!strncmp(last, "ok ", 3)) {
		printf("ok %u %s\n", number, suite);
		return true;
	}
	if (last[0] && strncmp(last, "not ok ", 7))
		fputs(last, stdout);
	printf("not ok %u %s\n", number, suite);
	return false;
}

bool kunit_rerun_suite(struct agent *a, const char *suite,
		       unsigned int number)
{
	char path[PATH_MAX];
	struct verdict v;
	bool ok;
	FILE *f;
	int err;

	snprintf(a->case_name, sizeof(a->case_name), "%s.debugfs_run", suite);
	start_case(a, &v, "    ");
	err = kunit_run(suite);
	snprintf(path, sizeof(path), KUNIT_DEBUGFS "/%s/results", suite);
	f = err ? NULL : fopen(path, "r");
	if (!f) {
		printf("    KTAP version 1\n    # Subtest: %s\n    1..0\n",
		       suite);
		printf("# %s: cannot run it again through debugfs: %s\n",
		       suite, strerror(err ? -err : errno));
		printf("not ok %u %s\n", number, suite);
		fflush(stdout);
		return false;
	}
	ok = kunit_print_results(suite, number, f);
	fclose(f);
	fflush(stdout);
	return ok;
}
