// SPDX-License-Identifier: GPL-2.0
/*
 * --dma MODE: before the first case, prove that uafault's DMA device maps
 * buffers the way the guest kernel says (guest/kernels.py): "direct" (no
 * translating IOMMU), "iommu" (an IOMMU group with a DMA domain) or
 * "swiotlb" (a transfer raises swiotlb's high-water mark).  A kernel that
 * is not what it says fails the boot instead of passing as another.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "agent.h"
#include "cases.h"
#include "device.h"
#include "dma.h"
#include "protocol.h"
#include "target.h"

#define PCI_DRIVER	"/sys/bus/pci/drivers/uafault_dma"
#define HIWATER		"/sys/kernel/debug/swiotlb/io_tlb_used_hiwater"
#define DMA_TARGET	"pin_dma_read"

/* The sysfs directory of the PCI device uafault.ko bound, or -1. */
static int dma_pci_device(char *out, size_t size)
{
	DIR *d = opendir(PCI_DRIVER);
	struct dirent *e;
	int found = -1;

	if (!d)
		return -1;
	while (found && (e = readdir(d)))
		if (strchr(e->d_name, ':'))
			found = snprintf(out, size, PCI_DRIVER "/%s",
					 e->d_name) < (int)size ? 0 : -1;
	closedir(d);
	return found;
}

/* The device's IOMMU domain type ("DMA", "identity" ...), "" for none. */
static void dma_domain_type(const char *dev, char *type, size_t size)
{
	char path[512];
	FILE *f;

	type[0] = '\0';
	snprintf(path, sizeof(path), "%s/iommu_group/type", dev);
	f = fopen(path, "r");
	if (!f)
		return;
	if (fgets(type, (int)size, f))
		type[strcspn(type, "\n")] = '\0';
	fclose(f);
}

static long read_hiwater(void)
{
	long v = -1;
	FILE *f = fopen(HIWATER, "r");

	if (f) {
		if (fscanf(f, "%ld", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

/* Slots swiotlb handed out for one DMA_TO_DEVICE transfer of two pages. */
static long dma_bounced(const struct agent *a)
{
	const struct target *t = find_target(a, DMA_TARGET);
	size_t len = 2 * (size_t)PAGE;
	struct uafault_run r;
	FILE *f = fopen(HIWATER, "w");
	void *buf;
	int err;

	if (!t || !f) {
		if (f)
			fclose(f);
		return -1;
	}
	fputs("0\n", f);
	if (fclose(f))
		return -1;
	buf = mmap(NULL, len, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (buf == MAP_FAILED)
		return -1;
	memset(buf, 0x5a, len);
	err = run_target(a, t, buf, len, &r);
	munmap(buf, len);
	return err || r.ret ? -1 : read_hiwater();
}

/* Whether --dma @mode is one of DMA_MODES; if not, says which are. */
bool dma_mode_known(const char *mode)
{
	static const char *const modes[] = { DMA_MODES };
	size_t i, n = ARRAY_SIZE(modes);

	for (i = 0; i < n; i++)
		if (!strcmp(mode, modes[i]))
			return true;
	fprintf(stderr, AGENT_ERROR_PREFIX "--" OPT_DMA " %s: not one of", mode);
	for (i = 0; i < n; i++)
		fprintf(stderr, " %s", modes[i]);
	fputc('\n', stderr);
	return false;
}

int dma_prove(const struct agent *a, const char *mode)
{
	bool translated;
	char dev[300], type[32];
	long slots;

	/* No DMA device (a kernel of the user's own) is dma-direct's case. */
	if (!find_target(a, DMA_TARGET)) {
		if (!strcmp(mode, "direct"))
			return 0;
		fprintf(stderr, AGENT_ERROR_PREFIX "--" OPT_DMA " %s: uafault.ko registered no DMA targets (see its log)\n",
			mode);
		return -1;
	}
	if (dma_pci_device(dev, sizeof(dev)))
		snprintf(dev, sizeof(dev), "/sys/bus/platform/devices/uafault-dma");
	dma_domain_type(dev, type, sizeof(type));
	translated = type[0] && strcmp(type, "identity");
	if (!strcmp(mode, "iommu")) {
		if (translated)
			return 0;
		fprintf(stderr, AGENT_ERROR_PREFIX "--" OPT_DMA " iommu: %s is not behind a translating IOMMU (domain type '%s')\n",
			dev, type);
		return -1;
	}
	if (translated) {
		fprintf(stderr, AGENT_ERROR_PREFIX "--" OPT_DMA " %s: %s is behind an IOMMU (domain type '%s')\n",
			mode, dev, type);
		return -1;
	}
	if (strcmp(mode, "swiotlb"))
		return 0;
	slots = dma_bounced(a);
	if (slots > 0)
		return 0;
	fprintf(stderr, AGENT_ERROR_PREFIX "--" OPT_DMA " swiotlb: a %s transfer left %s at %ld: nothing bounced\n",
		DMA_TARGET, HIWATER, slots);
	return -1;
}
