"""Guest serial consoles shaped like a real boot: SeaBIOS noise, timestamped
kernel lines, /init's markers and the agent's KTAP interleaved."""

BOOT = """\
\x1bc\x1b[?7l\x1b[2J\x1b[0mSeaBIOS (version 1.16.2-debian-1.16.2-1)
Booting from ROM..
[    0.000000] Linux version 6.12.117 (root@host) #1 SMP PREEMPT_DYNAMIC
[    0.000000] Command line: console=ttyS0 panic=-1 oops=panic
[    2.104331] Run /init as init process
uafault-init: zram swap on
uafault-init: agent start
[    2.401220] uafault: loading out-of-tree module taints kernel.
"""

# copy_from_user: two cases, the second makes the kernel WARN although the
# agent calls it ok.  smap_read: an announced oops.  A printk lands in the
# middle of an agent line once.
KTAP_WITH_REPORTS = BOOT + """\
KTAP version 1
1..2
    KTAP version 1
    # Subtest: copy_from_user
    # module: uafault
    1..2
    # uafault-case: copy_from_user.unmapped
    ok 1 unmapped
    # uafault-case: copy_from_user.prot_none
[    3.000001] ------------[ cut here ]------------
[    3.000002] WARNING: CPU: 1 PID: 77 at mm/gup.c:2211 pin_user_pages+0x5a/0x80
[    3.000003] Modules linked in: uafault_example uafault
[    3.000004] RIP: 0010:pin_user_pages+0x5a/0x80
[    3.000005] ---[ end trace 0000000000000000 ]---
    ok 2 prot_none
# copy_from_user: pass:2 fail:0 skip:0 total:2
ok 1 copy_from_user
    KTAP version 1
    # Subtest: smap_read
    # module: uafault
    1..1
    # uafault-expect-oops: smap_read.smap
    # uafault-case: smap_read.smap
[    4.100000] BUG: unable to handle page fault for address: 00007ffd12345000
[    4.100001] #PF: supervisor read access in kernel mode
[    4.100002] Oops: Oops: 0001 [#1] PREEMPT SMP NOPTI
[    4.100003] ---[ end trace 0000000000000000 ]---
    ok 1 sm[    4.200000] uafault: smap target done
ap
# smap_read: pass:1 fail:0 skip:0 total:1
ok 2 smap_read
uafault-init: agent exit 0
[    5.000000] reboot: Power down
"""

# The same run without the unexpected WARNING.
KTAP_EXPECTED_ONLY = "\n".join(
    line for line in KTAP_WITH_REPORTS.splitlines()
    if not line.startswith("[    3.")
) + "\n"
