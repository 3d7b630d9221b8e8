// SPDX-License-Identifier: GPL-2.0
/*
 * --kunit GLOB: the KUnit suites of a loaded module run again the way a
 * developer re-runs one, by writing to /sys/kernel/debug/kunit/<suite>/run,
 * each reported as one more KTAP suite from its results file.  The module
 * ran them once when it was loaded, so this is every suite's second run:
 * what suite_init builds (the parameter tables) must come out the same.
 * Before it, --kunit-param turns on the cases that WARN or oops on
 * purpose (off at load, where a report would fail the boot), and
 * --kunit-last puts the suites that oops after the rest.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "cases.h"
#include "ktap.h"
#include "kunit_rerun.h"
#include "protocol.h"
#include "sys.h"
#include "verdict.h"

#define KUNIT_DEBUGFS	"/sys/kernel/debug/kunit"

static void kunit_free_suites(char **names, int n)
{
	while (n > 0)
		free(names[--n]);
	free(names);
}

/*
 * The suites that oops on purpose (@last) go after every other suite: an
 * oops taints the kernel and turns lockdep off for what runs after it.
 */
static const char *last_glob;

static int by_order(const void *a, const void *b)
{
	const char *x = *(char * const *)a, *y = *(char * const *)b;
	bool x_last = last_glob && !fnmatch(last_glob, x, 0);
	bool y_last = last_glob && !fnmatch(last_glob, y, 0);

	if (x_last != y_last)
		return x_last ? 1 : -1;
	return strcmp(x, y);
}

static int kunit_list_suites(const char *glob, const char *last,
			     char ***names)
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
	last_glob = last;
	qsort(list, n, sizeof(*list), by_order);
	*names = list;
	return n;
nomem:
	kunit_free_suites(list, n);
	closedir(dir);
	return -ENOMEM;
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
		ktap_result("", true, number, suite);
		return true;
	}
	if (last[0] && strncmp(last, "not ok ", 7))
		fputs(last, stdout);
	ktap_result("", false, number, suite);
	return false;
}

static bool kunit_rerun_suite(struct agent *a, const char *suite,
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
		ktap_version("    ");
		ktap_subtest("    ", suite);
		ktap_plan("    ", 0);
		ktap_diag("", "%s: cannot run it again through debugfs: %s\n",
			  suite, strerror(err ? -err : errno));
		ktap_result("", false, number, suite);
		fflush(stdout);
		return false;
	}
	ok = kunit_print_results(suite, number, f);
	fclose(f);
	fflush(stdout);
	return ok;
}

/*
 * "MODULE.NAME=VALUE": the module's parameter NAME, which must be
 * writable, set to VALUE before the suites run again (the cases that
 * WARN or oops on purpose, off while the module loaded).  Checked when
 * the option is read, written by kunit_rerun_prepare().
 */
bool kunit_param_ok(const char *setting)
{
	const char *dot = strchr(setting, '.'), *eq = strchr(setting, '=');

	if (dot && eq && dot < eq && dot != setting && eq != dot + 1 &&
	    !memchr(setting, '/', eq - setting))
		return true;
	fprintf(stderr, AGENT_ERROR_PREFIX "--" OPT_KUNIT_PARAM " %s: not MODULE.NAME=VALUE\n",
		setting);
	return false;
}

static int kunit_set_param(const char *setting)
{
	const char *dot = strchr(setting, '.'), *eq = strchr(setting, '=');
	char path[PATH_MAX];
	int err;

	snprintf(path, sizeof(path), "/sys/module/%.*s/parameters/%.*s",
		 (int)(dot - setting), setting, (int)(eq - dot - 1), dot + 1);
	err = write_knob(path, eq + 1);
	if (err)
		fprintf(stderr, AGENT_ERROR_PREFIX "--" OPT_KUNIT_PARAM " %s: cannot write %s: %s\n",
			setting, path, strerror(-err));
	return err;
}

int kunit_rerun_prepare(struct kunit_rerun *r)
{
	int i, n;

	for (i = 0; i < r->nparams; i++)
		if (kunit_set_param(r->params[i]))
			return -EINVAL;
	n = kunit_list_suites(r->glob, r->last, &r->suites);
	if (n <= 0) {
		fprintf(stderr, AGENT_ERROR_PREFIX "no KUnit suite matches '%s' in " KUNIT_DEBUGFS " (%s)\n",
			r->glob, n ? strerror(-n) :
			"is its module loaded, with CONFIG_KUNIT_DEBUGFS?");
		return n ? n : -ENOENT;
	}
	r->nsuites = n;
	return 0;
}

bool kunit_rerun_all(struct agent *a, const struct kunit_rerun *r,
		     unsigned int *number)
{
	bool ok = true;
	int i;

	for (i = 0; i < r->nsuites; i++)
		ok &= kunit_rerun_suite(a, r->suites[i], ++*number);
	return ok;
}

void kunit_rerun_free(struct kunit_rerun *r)
{
	if (r->nsuites > 0)
		kunit_free_suites(r->suites, r->nsuites);
	r->suites = NULL;
	r->nsuites = 0;
}
