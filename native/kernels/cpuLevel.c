/* latephase native kernels: the CPU's x86-64 level from CPUID. Part of the one translation unit native/kernels.c includes. */
/*
 * What the processor executes, asked with CPUID (GCC/Clang's __builtin_cpu_supports), not what
 * /proc/cpuinfo says: under an emulator or a hypervisor that masks features the two can differ, and
 * the loader (src/backend/nativeKernels.ts) asks the baseline binary for this before it loads a
 * faster one. 1: plain x86-64; 2: v2 (SSE4.2, POPCNT); 3: v3 (AVX2, FMA, BMI2); 4: v4 (AVX-512);
 * 0 where not x86-64.
 */
static int cpu_level(void) {
#if defined(__x86_64__)
  __builtin_cpu_init();
  if (!(__builtin_cpu_supports("sse4.2") && __builtin_cpu_supports("popcnt") && __builtin_cpu_supports("ssse3"))) return 1;
  if (!(__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("bmi") && __builtin_cpu_supports("bmi2")))
    return 2;
  if (!(__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512cd") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl")))
    return 3;
  return 4;
#else
  return 0;
#endif
}
