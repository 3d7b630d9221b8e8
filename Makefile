# SPDX-License-Identifier: GPL-2.0
#
# One file, two roles.  Inside a kernel build (the project linked into a
# tree, or "make -C $KDIR M=$PWD") KERNELRELEASE is set and this is a
# Kbuild file.  Otherwise it is the user's entry point.

ifneq ($(KERNELRELEASE),)

obj-$(CONFIG_UAFAULT_KUNIT_TEST) += kunit/
obj-$(CONFIG_UAFAULT) += module/

else

HARNESS := $(CURDIR)/harness/uafault
# The kernel build tree "make modules" (M=) builds against.
KDIR ?= /lib/modules/$(shell uname -r)/build

.PHONY: all run test setup doctor kunit kunit-x86_64 modules guest guest-artefacts clean

all: run

# Fresh Debian 12 -> packages, kernel source, link, KUnit suites in UML.
# Each entry point installs only what it needs (setup --for).
run: setup
	$(HARNESS) kunit --arch um

# The whole test suite: harness unit tests, KUnit on UML and x86_64, the
# guest and campaign layers.
test:
	$(HARNESS) setup --for test
	$(HARNESS) test

setup:
	$(HARNESS) setup

doctor:
	$(HARNESS) doctor

kunit:
	$(HARNESS) kunit --arch um

kunit-x86_64:
	$(HARNESS) kunit --arch x86_64

# Out-of-tree build of the suites as uafault_kunit.ko against KDIR, whose
# config must have KUNIT enabled.
modules:
	$(MAKE) -C $(KDIR) M=$(CURDIR) CONFIG_UAFAULT_KUNIT_TEST=m modules

# The QEMU guest layer: guest kernel, uafault.ko, the agent, one boot.
guest:
	$(HARNESS) setup --for guest
	$(HARNESS) guest

# uafault.ko, the example module, uafault_kunit.ko and the in-guest
# programs, built against KDIR (a guest kernel build dir).  Kbuild writes
# objects next to the sources, so the harness points MODSRC and KUNITSRC at
# copies of module/ and kunit/ per kernel and AGENT_OUT at a directory of
# that kernel's own; the agent compiles against that kernel's uapi.  The agent is always rebuilt (-B, about a second): its
# sources may come from another checkout with older mtimes than the
# binaries there.  GCOV_PROFILE=y: the modules are code under test, so a
# kernel with CONFIG_GCOV_KERNEL counts their lines (`--coverage`).
# A kernel without CONFIG_KUNIT (a distribution's) takes KUNIT_MODULE=n.
# AGENT_KDIR is the kernel whose uapi the agent compiles against; empty
# (a headers package, which has no `make headers`) is the host's own.
MODSRC ?= $(CURDIR)/module
KUNITSRC ?= $(CURDIR)/kunit
AGENT_OUT ?= $(CURDIR)/harness/agent
KUNIT_MODULE ?= y
AGENT_KDIR ?= $(KDIR)
guest-artefacts:
	$(MAKE) -C $(KDIR) M=$(MODSRC) GCOV_PROFILE=y modules
ifeq ($(KUNIT_MODULE),y)
	$(MAKE) -C $(KDIR) M=$(KUNITSRC) CONFIG_UAFAULT_KUNIT_TEST=m modules
endif
	$(MAKE) -C $(KDIR) M=$(MODSRC)/example GCOV_PROFILE=y \
		KBUILD_EXTRA_SYMBOLS=$(MODSRC)/Module.symvers modules
	$(MAKE) -C $(KDIR) M=$(MODSRC)/variants GCOV_PROFILE=y \
		KBUILD_EXTRA_SYMBOLS=$(MODSRC)/Module.symvers modules
ifneq ($(AGENT_KDIR),)
	$(MAKE) -C $(AGENT_KDIR) headers
endif
	$(MAKE) -B -C $(CURDIR)/harness/agent OUT=$(AGENT_OUT) KDIR=$(AGENT_KDIR)

clean:
	@if [ -n "$(KDIR)" ] && [ -f "$(KDIR)/Makefile" ]; then \
		$(MAKE) -C $(KDIR) M=$(CURDIR) clean; fi

endif
