// Umbrella header of the C kernels, imported by Swift as the CKernels module.
#ifndef CKERNELS_H
#define CKERNELS_H
#include "ck_blocks.h"
#include "ck_fp16.h"
#include "ck_quantize.h"
#include "ck_cpu.h"
#include "ck_pool.h"
#include "ck_matmul.h"
#include "ck_ops.h"
#endif
