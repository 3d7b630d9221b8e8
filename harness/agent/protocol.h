/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The agent <-> host protocol, agent side: everything the host hands the
 * agent (its options, the guest's disks) and everything it reads or
 * matches in what the agent prints (markers, tags, the case, result,
 * target and stats lines, the limits it plans within).  One definition:
 * the host reads this file (harness/uafault_harness/core/agent_header.py)
 * instead of spelling any of it again, so keep each value a string
 * literal, a list of them, or these macros joined.  The known-deviation
 * records and their markers are module/uafault_known.h's, included here.
 */
#ifndef UAFAULT_PROTOCOL_H
#define UAFAULT_PROTOCOL_H

#include "../../module/uafault_known.h"

/* The agent's name, and how its complaints on stderr start. */
#define AGENT_NAME		"uafault-agent"
#define AGENT_ERROR_PREFIX	AGENT_NAME ": "

/* The command line: each option's name, without its "--". */
#define OPT_MODULE		"module"
#define OPT_MODULE_PARAMS	"module-params"
#define OPT_ALLOW_CRASH		"allow-crash"
#define OPT_TARGETS		"targets"
#define OPT_FAULTS		"faults"
#define OPT_SEED		"seed"
#define OPT_ROUNDS		"rounds"
#define OPT_LIST_FAULTS		"list-faults"
#define OPT_LIST_TARGETS	"list-targets"
#define OPT_FUZZER		"fuzzer"
#define OPT_FUZZ_CALLS		"fuzz-calls"
#define OPT_BARE_CALLS		"bare-calls"
#define OPT_SIZE		"size"
#define OPT_OFFSET		"offset"
#define OPT_CASES		"cases"
#define OPT_MEMORY		"memory"
#define OPT_BREAK_MEMORY	"break-memory"
#define OPT_LIST_MEMORY		"list-memory"
#define OPT_DMA			"dma"
#define OPT_EXEC		"exec"
#define OPT_KUNIT		"kunit"
#define OPT_KUNIT_PARAM		"kunit-param"
#define OPT_KUNIT_LAST		"kunit-last"
#define OPT_EXPECT_TARGETS	"expect-targets"
#define OPT_MISUSE_PATHS	"misuse-paths"
#define OPT_REFS_PASSER_BY	"refs-passer-by"
#define OPT_KNOWN_ISSUE		"known-issue"
#define OPT_WATCHDOG		"watchdog"
#define OPT_HANG_PATHS		"hang-paths"
#define OPT_PATH_FILE		"path-file"
#define OPT_COVERAGE		"coverage"
#define OPT_CALLER		"caller"
#define OPT_HELP		"help"

#define PAGE		4096UL
/*
 * x86_64's PMD-sized huge page: the largest folio a memory kind has, so a
 * case's offset (where its range starts from the head of its memory's
 * first folio) is below it.
 */
#define HPAGE		(512 * PAGE)
#define MAX_PAGES	8
/* The longest range a case may ask for (--size): a page is left to plant in. */
#define MAX_RANGE	((MAX_PAGES - 1) * PAGE)
/* --rounds: runs of the target against a racing thread. */
#define DEFAULT_ROUNDS	200
/* --known-issue: configs/known-issues.toml's entries for one kernel, and room. */
#define MAX_KNOWN	64

/* KTAP (Documentation/dev-tools/ktap.rst) as the agent writes it. */
#define KTAP_VERSION_LINE	"KTAP version 1"
#define KTAP_SUBTEST		"# Subtest: "
/* A suite's owner, after its subtest line. */
#define KTAP_MODULE		"# module: "
/*
 * The directives of a result line, after "# ": a skip, a known issue's or
 * deviation's failure (a SKIP that says XFAIL), and a known issue's pass
 * where a strict issue says it must fail.  The agent prints no XPASS: the
 * host makes it (campaign/known_issues.py) from a pass of a strict issue.
 */
#define KTAP_SKIP		"SKIP"
#define KTAP_XFAIL		UAFAULT_KNOWN_XFAIL
#define KTAP_XPASS		"XPASS"
/* A --known-issue case that failed: its SKIP's reason, with a record id... */
#define XFAIL_RECORD_REASON	KTAP_XFAIL " %s: known deviation"
/* ... and without one (a known issue of uafault's own variants, a user's). */
#define XFAIL_ISSUE_REASON	KTAP_XFAIL ": a known issue"
/*
 * --caller NAME, and a --cases line's field after its memory kind: who
 * makes a case's calls.  root, the first (the default): the agent.  user:
 * a child of a uid of its own, with every capability but CAP_IPC_LOCK,
 * under a small RLIMIT_MEMLOCK: what pin accounting charges, the uid's
 * locked_vm and the mm's pinned_vm, the accounting oracle (caller.c,
 * complaints tagged ACCOUNTING_TAG) then checks.
 */
#define CALLERS			"root", "user"
#define ACCOUNTING_TAG		"accounting"

/* A case that could not be set up: its SKIP's reason. */
#define SETUP_FAILED_REASON	"set-up failed"

/* Printed before each case / before a case meant to oops. */
#define CASE_MARKER		"# uafault-case:"
#define EXPECT_OOPS_MARKER	"# uafault-expect-oops:"
/* A --cases case runs as "campaign.<case id>". */
#define CAMPAIGN_CASE_PREFIX	"campaign."
/*
 * The tag of the note of a case that could not be set up (unresolved());
 * its result line is then a SKIP.  An oracle's complaint starts with the
 * oracle's tag the same way: "[pins] pin balance 3 -> 4".
 */
#define SETUP_TAG		"setup"

/*
 * --list-targets: "uafault-target: NAME OWNER fixed_len=N align=A
 * kinds=KIND,...", then " crash" for a target that oopses.  A: what its
 * contract wants the range's address a multiple of (0: anything), so the
 * host can plan the starts such a path accepts (direct I/O's 512).
 */
#define TARGET_MARKER		"uafault-target:"
#define TARGET_LINE		TARGET_MARKER " %s %s fixed_len=%zu align=%u kinds="
#define TARGET_CRASH		" crash"
/*
 * --list-memory: a line per memory kind, "NAME [folio=BYTES] [skip=KIND,...]",
 * folio the size of its large folios (THP, hugetlb) when larger than a page:
 * a case's offset on it may start the range anywhere in the folio.
 */
#define MEMORY_FOLIO		"folio="
/*
 * What this kernel cannot run (--list-targets, and every agent start for
 * its paths): "uafault-unavailable: kind|path|paths NAME CONFIG_X[: why]".
 */
#define UNAVAILABLE_MARKER	"uafault-unavailable:"

/* A boot the kernel tainted before the first case (main.c): no case runs. */
#define BOOT_TAINTED_LINE	AGENT_ERROR_PREFIX "the kernel is tainted (%lu) before the first case: a report during boot\n"
/* --watchdog: a call that has not returned (watchdog.c). */
#define WATCHDOG_LINE		AGENT_ERROR_PREFIX "watchdog: %s: its call has not returned in %u s\n"

/*
 * --refs-passer-by (tests): each case's note of the page references the
 * agent held, as a passer-by would, through the looks before the call
 * (held), and on how many of those pages the looks saw one (seen).
 */
/*
 * How [refs]'s complaint ends: the call kept a reference to a page, or
 * left it below what it can hold.
 */
#define REFS_KEPT		"a reference kept"
#define REFS_DROPPED		"a reference dropped that the call never took"
#define PASSER_BY_MARKER	"# uafault-refs-passer-by:"
#define PASSER_BY_LINE		PASSER_BY_MARKER " held %u seen %u\n"
/*
 * --misuse-paths (tests): a path whose misuse must keep something past
 * its call kept nothing, so the oracles' silence on it proves nothing;
 * the call is reported failed.  %s: what the path opened (a fuse splice
 * server's mount point: the server kept no request in its pipe).
 */
#define MISUSE_NOT_KEPT_LINE	AGENT_ERROR_PREFIX "%s: --misuse-paths kept nothing past the call\n"

/*
 * The oracle of a change made while a path holds (kinds_held.c's held_*
 * kinds): the pins were not held at the change, or not what the change's
 * contract leaves them.
 */
#define HELD_CHANGE_ORACLE	"[held-change]"

/* The figures: checked scenarios, and the bare ioctl loop (bench). */
#define STATS_MARKER		"# uafault-stats:"
#define STATS_LINE		STATS_MARKER " scenarios=%lu seconds=%.3f\n"
#define BARE_MARKER		"# uafault-bare:"
#define BARE_LINE		BARE_MARKER " calls=%lu seconds=%.3f\n"
/* The profile line (profile.c), which bench/profile reads. */
#define PROFILE_MARKER		"# uafault-profile:"

/*
 * Kernel reports: a kernel log message that starts with one of these.  The
 * agent fails a case on one (unless it expected an oops); the host reads
 * this list too (guest/console.py), to cut the console into reports.
 * dma-debug's complaints come as a WARNING ("DMA-API: " alone also starts
 * the boot line that says how many entries it preallocated); SLUB's debug
 * checks (a red zone overwritten) as "BUG <cache> (<taint>): <what>".
 */
#define REPORT_MARKERS							\
	"BUG:", "BUG ", "WARNING:", "Oops", "KASAN:", "UBSAN:",		\
	"general protection fault", "#PF: ", "possible circular locking", \
	"INFO: task", "kernel BUG", "Kernel panic"

/*
 * The guest's virtio-blk disks, named by their serial (guest/qemu.py
 * reads these): direct I/O's scratch disk, the ext4 memory kinds', and
 * --coverage's, where each case's gcov counters go, one record per object
 * the case ran (guest/coverage.py reads these).
 */
#define SCRATCH_SERIAL	"uafault-scratch"
#define EXT4_SERIAL	"uafault-ext4"
#define COVERAGE_SERIAL	"uafault-coverage"
#define COVERAGE_RECORD	"uafault-gcda"

/* --dma MODE, the mappings it can prove (guest/kernels.py reads these). */
#define DMA_MODES	"direct", "swiotlb", "iommu"

#endif
