/*
 * latephase's native CPU kernels, for the wasm backend: the few kernels whose best formulation on
 * onnxruntime or XNNPACK stays far behind a tuned library (bench/README.md#native-kernels). They
 * read and write tfjs's wasm heap in place through typed arrays, on the calling thread.
 * Built by native/build.js with the machine's C compiler (-O3 -march=native), or prebuilt per
 * x86-64 level for the package; optional: without it the onnxruntime formulations run.
 * GCC/Clang vector extensions keep one source for AVX-512, AVX2 or SSE: the compiler splits
 * 16-float vectors into what the target has.
 */
/*
 * One translation unit, the files by topic in dependency order (the small helpers inline across
 * them, as when this was one file): types and scratch, the thread pool, the convolution
 * formulations and their drivers, BatchNorm, pooling, the fused first layer, elementwise and SGD, the loss, then the N-API glue.
 */
#include "kernels/common.h"
#include "kernels/threadPool.c"
#include "kernels/im2col.c"
#include "kernels/winograd.c"
#include "kernels/filterGradientSmall.c"
#include "kernels/winogradGradient.c"
#include "kernels/convolution.c"
#include "kernels/batchNorm.c"
#include "kernels/pooling.c"
#include "kernels/convPool.c"
#include "kernels/elementwise.c"
#include "kernels/loss.c"
#include "kernels/cpuLevel.c"
#include "kernels/napi.c"
