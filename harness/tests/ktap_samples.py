"""Console logs shaped like real kunit.py runs of the uafault suites."""

UM_CONSOLE = """\
Core dump limits :
	soft - 0
Checking environment variables for a tempdir...done
Linux version 6.12.117 (root@host) (gcc (Debian 12.2.0-14) 12.2.0) #1 Mon Nov 17 2025
KTAP version 1
1..3
    KTAP version 1
    # Subtest: uafault_copy
    # module: uafault_kunit
    1..2
        KTAP version 1
        # Subtest: copy_range_test
        ok 1 unmapped page
        ok 2 prot_none page
    # copy_range_test: EXPECTATION FAILED at lib/uafault/kunit/copy.c:120
    Expected ret == 4096, but
        ret == 0 (0x0)
        not ok 3 read-only page
    # copy_range_test: pass:2 fail:1 skip:0 total:3
    not ok 1 copy_range_test
    ok 2 getput_test
# uafault_copy: pass:1 fail:1 skip:0 total:2
# Totals: pass:3 fail:1 skip:0 total:4
not ok 1 uafault_copy
    KTAP version 1
    # Subtest: uafault_string
    # module: uafault_kunit
    1..2
        KTAP version 1
        # Subtest: string_test
        ok 1 strncpy_from_user unmapped
        ok 2 strnlen_user prot_none
        ok 3 strncpy_from_user straddle
    # string_test: pass:3 fail:0 skip:0 total:3
    ok 1 string_test
    ok 2 string_kernel_addr_test # SKIP kernel range not testable on um
# uafault_string: pass:3 fail:0 skip:1 total:4
# Totals: pass:3 fail:0 skip:1 total:4
ok 2 uafault_string
    KTAP version 1
    # Subtest: uafault_user_mem
    # module: uafault_kunit
    1..2
    ok 1 map_unmap_test
    ok 2 protect_test
# uafault_user_mem: pass:2 fail:0 skip:0 total:2
# Totals: pass:2 fail:0 skip:0 total:2
ok 3 uafault_user_mem
reboot: System halted
"""

# printk timestamps prefix every line, as on the x86_64 serial console.
X86_SMAP_SKIPPED = """\
[    0.000000] Linux version 6.12.117 (root@host) #1 SMP PREEMPT_DYNAMIC
[    1.204312] KTAP version 1
[    1.204320] 1..2
[    1.204401]     KTAP version 1
[    1.204402]     # Subtest: uafault_user_mem
[    1.204403]     1..1
[    1.204510]     ok 1 map_unmap_test
[    1.204511] ok 1 uafault_user_mem
[    1.204601]     KTAP version 1
[    1.204602]     # Subtest: uafault_smap
[    1.204603]     1..2
[    1.204700]     ok 1 smap_read_blocked # SKIP CPU lacks X86_FEATURE_SMAP
[    1.204701]     ok 2 smap_write_blocked # SKIP CPU lacks X86_FEATURE_SMAP
[    1.204702] # uafault_smap: pass:0 fail:0 skip:2 total:2
[    1.204703] ok 2 uafault_smap # SKIP CPU lacks X86_FEATURE_SMAP
[    1.300000] reboot: System halted
"""

X86_SMAP_RAN = X86_SMAP_SKIPPED.replace(" # SKIP CPU lacks X86_FEATURE_SMAP", "")

# The kernel died in the middle of the second case.
CRASHED_CONSOLE = """\
KTAP version 1
1..1
    KTAP version 1
    # Subtest: uafault_copy
    1..2
    ok 1 getput_test
BUG: kernel NULL pointer dereference, address: 0000000000000000
Kernel panic - not syncing: Fatal exception
"""

NO_KTAP_CONSOLE = "Linux version 6.12.117\nKernel panic - not syncing: VFS: Unable to mount root fs\n"
