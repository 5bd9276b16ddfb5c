/* latephase native kernels: ReLU, addition and the SGD step. Part of the one translation unit native/kernels.c includes. */
/*
 * ReLU forward and same-shape addition (residual adds, gradient accumulation): one pass each, split
 * over the pool (the wasm kernels they replace run on one thread). x < 0 ? 0 : x keeps a NaN a NaN,
 * so a diverging run still shows it in the loss.
 */
typedef struct {
  const float *a, *b;
  float *out;
  long n;
} elementwise_job;

/* ReLU's gradient from its output, a = dy, b = y: dx = y > 0 ? dy : 0 (one pass instead of a step and a product). */
static void relu_backward_chunk(void *arg, long task) {
  const elementwise_job *j = arg;
  const float *restrict dy = j->a, *restrict y = j->b;
  float *restrict dx = j->out;
  const long i1 = (task + 1) * ELEMENTWISE_GRAIN < j->n ? (task + 1) * ELEMENTWISE_GRAIN : j->n;
  /* dy read unconditionally: a select the compiler vectorises, not a branch per element (50% mispredicted) */
  for (long i = task * ELEMENTWISE_GRAIN; i < i1; i++) {
    const float d = dy[i];
    dx[i] = y[i] > 0 ? d : 0;
  }
}

static void relu_forward_chunk(void *arg, long task) {
  const elementwise_job *j = arg;
  const float *restrict x = j->a;
  float *restrict y = j->out;
  const long i1 = (task + 1) * ELEMENTWISE_GRAIN < j->n ? (task + 1) * ELEMENTWISE_GRAIN : j->n;
  for (long i = task * ELEMENTWISE_GRAIN; i < i1; i++) y[i] = x[i] < 0 ? 0 : x[i];
}

static void add_chunk(void *arg, long task) {
  const elementwise_job *j = arg;
  const float *restrict a = j->a, *restrict b = j->b;
  float *restrict out = j->out;
  const long i1 = (task + 1) * ELEMENTWISE_GRAIN < j->n ? (task + 1) * ELEMENTWISE_GRAIN : j->n;
  for (long i = task * ELEMENTWISE_GRAIN; i < i1; i++) out[i] = a[i] + b[i];
}

static void elementwise(task_fn fn, const float *a, const float *b, float *out, long n) {
  elementwise_job j = {.a = a, .b = b, .out = out, .n = n};
  parallel_for(task_count(n, ELEMENTWISE_GRAIN), fn, &j);
}

/*
 * One SGD step (src/train/sgd.ts) in one pass, with the same float32 operations in the same order
 * as the tfjs-op version, each rounded on its own (no fused multiply-add), so both give the same bits:
 *   g = grad * scale; g = g + p * wd; buf = buf * m + g; u = nesterov ? g + buf * m : buf; p = p - u * lr.
 */
#if defined(__clang__)
#define NO_FMA
#else
#define NO_FMA __attribute__((optimize("fp-contract=off")))
#endif
typedef struct {
  const float *p, *grad, *buf;
  float *p_out, *buf_out;
  long n;
  float lr, momentum, wd, scale;
  int nesterov;
} sgd_job;

NO_FMA static void sgd_chunk(void *arg, long task) {
#if defined(__clang__)
#pragma clang fp contract(off)
#endif
  const sgd_job *j = arg;
  /* locals: stores through p_out could otherwise alias the job's floats and force a reload per element */
  const float *restrict p = j->p, *restrict grad = j->grad, *restrict buf = j->buf;
  float *restrict p_out = j->p_out, *restrict buf_out = j->buf_out;
  const float lr = j->lr, momentum = j->momentum, wd = j->wd, scale = j->scale;
  const int nesterov = j->nesterov;
  const long i1 = (task + 1) * ELEMENTWISE_GRAIN < j->n ? (task + 1) * ELEMENTWISE_GRAIN : j->n;
  for (long i = task * ELEMENTWISE_GRAIN; i < i1; i++) {
    float g = scale == 1.0f ? grad[i] : grad[i] * scale;
    if (wd > 0) g = g + p[i] * wd;
    float u = g;
    if (buf) {
      const float b = buf[i] * momentum + g;
      buf_out[i] = b;
      u = nesterov ? g + b * momentum : b;
    }
    p_out[i] = p[i] - u * lr;
  }
}

static void sgd_step(const float *p, const float *grad, const float *buf, float *p_out, float *buf_out, long n, float lr, float momentum,
                     float wd, int nesterov, float scale) {
  sgd_job j = {.p = p,
               .grad = grad,
               .buf = buf,
               .p_out = p_out,
               .buf_out = buf_out,
               .n = n,
               .lr = lr,
               .momentum = momentum,
               .wd = wd,
               .scale = scale,
               .nesterov = nesterov};
  parallel_for(task_count(n, ELEMENTWISE_GRAIN), sgd_chunk, &j);
}
