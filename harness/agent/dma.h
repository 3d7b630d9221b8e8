/* SPDX-License-Identifier: GPL-2.0 */
/* dma.c: --dma MODE (protocol.h's DMA_MODES), the mapping proven */
#ifndef UAFAULT_DMA_H
#define UAFAULT_DMA_H

#include <stdbool.h>

#include "agent.h"

bool dma_mode_known(const char *mode);
int dma_prove(const struct agent *a, const char *mode);

#endif
